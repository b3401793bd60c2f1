"""What the homecare module keeps about a person, and how it goes away on erasure."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext

from mairie.core.models import Commune, User
from mairie.homecare.models import Alarm, AlarmEvent, Contact, DeviceEvent, EnergyReading, Gateway, Home


def home_data(user: User, commune: Commune) -> list[dict[str, Any]]:
    return [
        {
            gettext("Logement"): home.label,
            gettext("Adresse"): home.address,
            gettext("Présence"): home.get_mode_display(),
            gettext("Début et fin de journée"): f"{home.active_from:%H:%M} – {home.active_until:%H:%M}",
            gettext("Seuil d'inactivité (minutes)"): home.inactivity_threshold_minutes,
            gettext("Dernier mouvement"): home.last_activity_at,
            gettext("« Tout va bien » chaque jour"): home.checkin_enabled,
            gettext("Dernier « Tout va bien »"): home.last_checkin_at,
            gettext("Appareils"): [str(device) for device in home.devices.all()],
            gettext("Personnes à prévenir"): [contact.name for contact in home.contacts.all()],
        }
        for home in Home.objects.filter(commune=commune, resident=user).prefetch_related(
            "devices", "contacts"
        )
    ]


def alarms_data(user: User, commune: Commune) -> list[dict[str, Any]]:
    return [
        {
            gettext("Date"): alarm.raised_at,
            gettext("Type"): alarm.get_kind_display(),
            gettext("État"): alarm.get_state_display(),
            gettext("Prise en charge le"): alarm.acknowledged_at,
            gettext("Issue"): alarm.outcome,
        }
        for alarm in Alarm.objects.filter(commune=commune, home__resident=user).order_by("-raised_at")
    ]


def contact_data(user: User, commune: Commune) -> list[dict[str, Any]]:
    return [
        {
            gettext("Logement de"): contact.home.resident.display_name,
            gettext("Lien"): contact.get_kind_display(),
            gettext("Ordre d'appel"): contact.order,
            gettext("Téléphone"): contact.phone,
            gettext("Adresse e-mail"): contact.email,
        }
        for contact in Contact.objects.filter(commune=commune, user=user).select_related("home__resident")
    ]


def erase(user: User, commune: Commune) -> None:
    """The resident's home stops being monitored and its data goes; alarm statistics stay, without words.

    Where the person is someone else's contact, the entry stays in the chain as "erased" (no name, no number,
    no account): the chain moves on to the next person.
    """
    homes = list(Home.objects.filter(commune=commune, resident=user))
    for home in homes:
        DeviceEvent.objects.filter(home=home).delete()
        EnergyReading.objects.filter(home=home).delete()
        Gateway.objects.filter(
            home=home
        ).delete()  # devices go with it: nothing more is accepted for this home
        Contact.objects.filter(home=home).delete()
        AlarmEvent.objects.filter(alarm__home=home).update(data={})
        Alarm.objects.filter(home=home).update(outcome="", data={}, next_escalation_at=None)
        Home.objects.filter(pk=home.pk).update(
            label=gettext("Logement effacé"),
            address="",
            mode=Home.Mode.HOSPITAL,
            inactivity_deadline=None,
            checkin_due_at=None,
            intrusion_deadline=None,
            last_activity_at=None,
            last_morning_activity_at=None,
            last_checkin_at=None,
            checkin_enabled=False,
        )
    Contact.objects.filter(commune=commune, user=user).update(
        user=None, name=gettext("Personne effacée"), phone="", email="", created_at=timezone.now()
    )
