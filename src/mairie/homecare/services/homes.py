"""Homes: setting them up, and their state over time (activity, modes, arming, daily check-in).

The functions whose name starts with ``home_`` / ``gateway_`` / ``device_`` / ``contact_`` are services (one
transaction, audit row). ``record_activity`` and ``refresh_deadlines`` work inside the caller's transaction
(the ingest service, a ticker) on a home row the caller has locked.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mairie.core.acting import Actor, log_for
from mairie.core.models import Commune, Membership, Role, User
from mairie.core.permissions import ensure_capability
from mairie.core.services.audit import log_action
from mairie.homecare import live, rules
from mairie.homecare.models import Alarm, AlarmEvent, Contact, Device, Gateway, Home

MANAGE = "homecare.manage_homes"

# Minutes of silence before a device counts as lost. Battery devices report on their own (the pendant every
# ~20 min, Aqara sensors about hourly): a short period catches a dead pendant the same hour. Mains-powered
# ones (fall radar, shutters, lights) speak only when something changes; Zigbee2MQTT pings them every 10 min
# and publishes ``offline`` on its own, which raises the alarm at once, so silence is only a backstop there:
# the 25 h Zigbee2MQTT uses for passive devices. The Linky meter streams every second.
DEFAULT_SUPERVISION: dict[str, int] = {
    Device.Kind.SOS: 60,
    Device.Kind.FALL: 1500,
    Device.Kind.SMOKE: 1500,
    Device.Kind.WATER_LEAK: 1500,
    Device.Kind.METER: 60,
    Device.Kind.SHUTTER: 1500,
    Device.Kind.LIGHT: 1500,
    Device.Kind.THERMOSTAT: 1500,
}
ALWAYS_ON_KINDS: frozenset[str] = frozenset(
    {Device.Kind.SMOKE, Device.Kind.WATER_LEAK, Device.Kind.SOS, Device.Kind.FALL}
)


# State over time (inside the caller's transaction).


def refresh_deadlines(home: Home, *, now: datetime) -> list[str]:
    """Recomputes the inactivity and check-in deadlines from the home's current columns; returns changed fields."""
    changed = []
    inactivity = (
        rules.next_inactivity_deadline(home, now)
        if home.inactivity_state == Home.InactivityState.OK
        else None
    )
    if home.inactivity_state != Home.InactivityState.OK and rules.inactivity_paused(home):
        inactivity = None
    if home.inactivity_state == Home.InactivityState.WARNING and not rules.inactivity_paused(home):
        inactivity = home.inactivity_deadline
    if inactivity != home.inactivity_deadline:
        home.inactivity_deadline = inactivity
        changed.append("inactivity_deadline")
    checkin = rules.next_checkin_due(home, now)
    if checkin != home.checkin_due_at:
        home.checkin_due_at = checkin
        changed.append("checkin_due_at")
    return changed


def record_activity(
    home: Home, *, at: datetime, morning_room: bool = False, source: str = "sensor"
) -> list[str]:
    """The resident did something: the silence clock restarts, a tablet warning is cancelled.

    Returns the fields changed on ``home`` (the caller saves them with its other changes).
    """
    changed: list[str] = []
    if home.last_activity_at is None or at > home.last_activity_at:
        home.last_activity_at = at
        changed.append("last_activity_at")
    if morning_room and (home.last_morning_activity_at is None or at > home.last_morning_activity_at):
        home.last_morning_activity_at = at
        changed.append("last_morning_activity_at")
    previous = home.inactivity_state
    if previous != Home.InactivityState.OK:
        home.inactivity_state = Home.InactivityState.OK
        home.inactivity_reason = ""
        changed += ["inactivity_state", "inactivity_reason"]
        if previous == Home.InactivityState.WARNING:
            log_action(
                "homecare.inactivity.cancelled",
                commune=home.commune,
                actor=None,
                obj=home,
                data={"source": source},
            )
        else:
            for alarm in Alarm.objects.filter(
                home=home, kind=Alarm.Kind.INACTIVITY, state__in=Alarm.OPEN_STATES
            ):
                AlarmEvent.objects.create(
                    commune_id=home.commune_id,
                    alarm=alarm,
                    at=at,
                    kind=AlarmEvent.Kind.ACTIVITY,
                    data={"source": source},
                )
        live.publish_on_commit(
            commune_id=home.commune_id, home_id=home.pk, event="inactivity.cleared", console=False
        )
    now = max(at, timezone.now())
    changed += refresh_deadlines(home, now=now)
    return list(dict.fromkeys(changed))


# Services.


def _locked(home: Home) -> Home:
    return Home.objects.select_for_update(of=("self",)).select_related("commune", "resident").get(pk=home.pk)


@transaction.atomic
def home_checkin(*, actor: Actor, home: Home, now: datetime | None = None) -> Home:
    """The resident pressed "Tout va bien" (tablet or phone): check-in done for today, tablet warning cancelled."""
    home = _locked(home)
    if actor.subject != home.resident:
        ensure_capability(actor.user, actor.commune, MANAGE)
    now = now or timezone.now()
    home.last_checkin_at = now
    changed = ["last_checkin_at", *record_activity(home, at=now, source="checkin")]
    home.save(update_fields=list(dict.fromkeys(changed)))
    log_for(actor, "homecare.home.checked_in", obj=home)
    live.publish_on_commit(commune_id=home.commune_id, home_id=home.pk, event="home.updated", console=False)
    return home


@transaction.atomic
def home_set_mode(*, actor: Actor, home: Home, mode: str, now: datetime | None = None) -> Home:
    """Present / away / in hospital. Away and hospital pause the inactivity rule and the daily check-in.

    The resident, a person on the home's call list who has an account (the daughter who drove her mother to
    hospital), or town-hall staff. Calls for help, falls, smoke and leaks are watched in every mode.
    """
    if mode not in Home.Mode.values:
        raise ValidationError({"mode": _("Choisissez présent·e, absent·e ou hospitalisé·e.")})
    home = _locked(home)
    on_call_list = Contact.objects.filter(home=home, user=actor.user).exists()
    if actor.subject != home.resident and not on_call_list:
        ensure_capability(actor.user, actor.commune, MANAGE)
    now = now or timezone.now()
    if mode == home.mode:
        return home
    previous = home.mode
    home.mode = mode
    changed = ["mode"]
    if mode == Home.Mode.NORMAL:
        # Back home: silence counts from now, not from before leaving.
        home.last_activity_at = now
        home.inactivity_state = Home.InactivityState.OK
        changed += ["last_activity_at", "inactivity_state"]
    changed += refresh_deadlines(home, now=now)
    home.save(update_fields=list(dict.fromkeys(changed)))
    log_for(actor, "homecare.home.mode_changed", obj=home, data={"from": previous, "to": mode})
    live.publish_on_commit(commune_id=home.commune_id, home_id=home.pk, event="home.updated")
    return home


@transaction.atomic
def home_arm(*, actor: Actor, home: Home, mode: str, now: datetime | None = None) -> Home:
    """Arms the intrusion alarm; the exit delay starts now. Arming again changes the mode and restarts it."""
    if mode not in Home.ArmedMode.values or mode == Home.ArmedMode.DISARMED:
        raise ValidationError({"mode": _("Choisissez un mode d'alarme.")})
    home = _locked(home)
    if actor.subject != home.resident:
        ensure_capability(actor.user, actor.commune, MANAGE)
    now = now or timezone.now()
    home.armed_mode, home.armed_at = mode, now
    home.intrusion_deadline, home.intrusion_device = None, None
    home.save(update_fields=["armed_mode", "armed_at", "intrusion_deadline", "intrusion_device"])
    log_for(actor, "homecare.home.armed", obj=home, data={"mode": mode})
    live.publish_on_commit(commune_id=home.commune_id, home_id=home.pk, event="home.updated", console=False)
    return home


@transaction.atomic
def home_disarm(*, actor: Actor, home: Home, now: datetime | None = None) -> Home:
    """Disarms; an entry delay still running is cancelled (the resident came home)."""
    home = _locked(home)
    if actor.subject != home.resident:
        ensure_capability(actor.user, actor.commune, MANAGE)
    cancelled = home.intrusion_deadline is not None
    home.armed_mode, home.armed_at = Home.ArmedMode.DISARMED, None
    home.intrusion_deadline, home.intrusion_device = None, None
    home.save(update_fields=["armed_mode", "armed_at", "intrusion_deadline", "intrusion_device"])
    log_for(actor, "homecare.home.disarmed", obj=home, data={"entry_delay_cancelled": cancelled})
    live.publish_on_commit(commune_id=home.commune_id, home_id=home.pk, event="home.updated", console=False)
    return home


# Setting up (town-hall staff).


def _staff(actor: Actor) -> None:
    ensure_capability(actor.user, actor.commune, MANAGE)


@transaction.atomic
def home_create(*, actor: Actor, resident: User, label: str, address: str = "", **settings: Any) -> Home:
    _staff(actor)
    if not Membership.objects.filter(commune=actor.commune, user=resident).exists():
        raise ValidationError({"resident": _("Cette personne n'habite pas la commune.")})
    allowed = {f.name for f in Home._meta.get_fields()} - {"id", "commune", "resident", "label", "address"}
    unknown = set(settings) - allowed
    if unknown:
        raise TypeError(f"unknown home settings: {sorted(unknown)}")
    now = timezone.now()
    home = Home(
        commune=actor.commune, resident=resident, label=label.strip(), address=address.strip(), **settings
    )
    home.full_clean(exclude=["commune", "resident"])
    home.save()
    refresh_deadlines(home, now=now)
    home.save(update_fields=["inactivity_deadline", "checkin_due_at"])
    log_for(actor, "homecare.home.created", obj=home)
    return home


@transaction.atomic
def home_update_settings(*, actor: Actor, home: Home, now: datetime | None = None, **settings: Any) -> Home:
    """Changes a home's thresholds, hours, delays; the deadlines follow."""
    _staff(actor)
    home = _locked(home)
    editable = {
        "label", "address", "timezone", "entry_delay_s", "exit_delay_s", "active_from", "active_until",
        "inactivity_threshold_minutes", "inactivity_warning_minutes", "morning_check_time", "morning_check_room",
        "checkin_enabled", "checkin_deadline", "door_open_night_minutes", "ack_minutes",
    }  # fmt: skip
    unknown = set(settings) - editable
    if unknown:
        raise TypeError(f"not editable here: {sorted(unknown)}")
    for name, value in settings.items():
        setattr(home, name, value)
    home.full_clean(exclude=["commune", "resident"])
    changed = [*settings, *refresh_deadlines(home, now=now or timezone.now())]
    home.save(update_fields=list(dict.fromkeys(changed)))
    log_for(actor, "homecare.home.updated", obj=home, data={"fields": sorted(settings)})
    return home


def mosquitto_password_hash(password: str, *, iterations: int = 101, salt: bytes | None = None) -> str:
    """The line Mosquitto's password file expects (``mosquitto_passwd``'s PBKDF2-SHA512 format, ``$7$``)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def default_base_topic(commune: Commune, home: Home) -> str:
    return f"zigbee2mqtt/{commune.slug}/{home.pk}"


def default_teleinfo_topic(commune: Commune, home: Home) -> str:
    return f"teleinfo/{commune.slug}/{home.pk}"


@transaction.atomic
def gateway_register(
    *, actor: Actor, home: Home, mqtt_username: str = "", base_topic: str = ""
) -> tuple[Gateway, str]:
    """Creates the home's gateway account. Returns it and its MQTT password (shown once, stored hashed)."""
    _staff(actor)
    password = secrets.token_urlsafe(18)
    base = base_topic.strip().strip("/") or default_base_topic(actor.commune, home)
    username = mqtt_username.strip() or (base.split("/", 1)[1] if "/" in base else base)
    if any(char in base for char in "+#\x00") or not base.startswith("zigbee2mqtt/"):
        raise ValidationError(
            {"base_topic": _("Le sujet MQTT commence par zigbee2mqtt/ et ne contient ni + ni #.")}
        )
    gateway = Gateway.objects.create(
        commune=actor.commune,
        home=home,
        mqtt_username=username,
        password_hash=mosquitto_password_hash(password),
        base_topic=base,
        teleinfo_topic=default_teleinfo_topic(actor.commune, home),
    )
    log_for(actor, "homecare.gateway.registered", obj=gateway, data={"username": username})
    return gateway, password


@transaction.atomic
def device_register(
    *,
    actor: Actor,
    gateway: Gateway,
    friendly_name: str,
    kind: str,
    room: str = "",
    label: str = "",
    ieee_address: str = "",
    supervision_minutes: int | None = None,
    use_entry_delay: bool = True,
    now: datetime | None = None,
) -> Device:
    _staff(actor)
    now = now or timezone.now()
    name = friendly_name.strip().strip("/")
    if not name or any(char in name for char in "+#\x00") or name.startswith("bridge/") or name == "bridge":
        raise ValidationError(
            {"friendly_name": _("Indiquez le nom de l'appareil tel qu'il est dans Zigbee2MQTT.")}
        )
    if name.endswith(("/set", "/get", "/availability")):
        raise ValidationError({"friendly_name": _("Ce nom se termine par un mot réservé par Zigbee2MQTT.")})
    if kind not in Device.Kind.values:
        raise ValidationError({"kind": _("Choisissez le type d'appareil.")})
    if Device.objects.filter(gateway=gateway, friendly_name=name).exists():
        raise ValidationError({"friendly_name": _("Un appareil de cette passerelle porte déjà ce nom.")})
    period = supervision_minutes or DEFAULT_SUPERVISION.get(kind, 1500)
    device = Device.objects.create(
        commune=gateway.commune,
        home=gateway.home,
        gateway=gateway,
        friendly_name=name,
        kind=kind,
        room=room.strip(),
        label=label.strip(),
        ieee_address=ieee_address.strip(),
        supervision_minutes=period,
        supervision_deadline=now + timedelta(minutes=period),
        always_on=kind in ALWAYS_ON_KINDS,
        use_entry_delay=use_entry_delay,
    )
    log_for(actor, "homecare.device.registered", obj=device, data={"kind": kind})
    return device


def _find_or_create_person(commune: Commune, *, name: str, phone: str, email: str) -> User | None:
    """A contact's account: the existing person with this phone or email, or a new one (no password)."""
    from mairie.core.phones import normalise_phone

    phone_norm = normalise_phone(phone) if phone else None
    user = None
    if phone_norm:
        user = User.objects.filter(phone=phone_norm).first()
    if user is None and email:
        user = User.objects.filter(email__iexact=email).first()
    if user is None:
        if not phone_norm and not email:
            return None
        first, _sep, last = name.strip().partition(" ")
        user = User.objects.create_user(
            username=f"contact-{secrets.token_hex(6)}",
            first_name=first[:100],
            last_name=last[:100],
            phone=phone_norm,
            email=email or None,
            home_commune=commune,
        )
    Membership.objects.get_or_create(commune=commune, user=user, role=Role.RELATIVE)
    return user


@transaction.atomic
def contact_add(
    *,
    actor: Actor,
    home: Home,
    name: str,
    phone: str = "",
    email: str = "",
    kind: str = Contact.Kind.RELATIVE,
    order: int | None = None,
    user: User | None = None,
    available_from: time | None = None,
    available_until: time | None = None,
) -> Contact:
    """Adds someone to the home's call chain. With a phone or email, they get an account (relative role) so that
    alarms reach them by SMS, email and on the site, and they can see the home's alarms."""
    if actor.subject != home.resident:
        _staff(actor)
    if kind not in Contact.Kind.values:
        raise ValidationError({"kind": _("Choisissez le lien avec la personne.")})
    if not name.strip():
        raise ValidationError({"name": _("Indiquez le nom de la personne à prévenir.")})
    if user is None and kind != Contact.Kind.OPERATOR:
        user = _find_or_create_person(actor.commune, name=name, phone=phone, email=email.strip())
    elif user is not None:
        Membership.objects.get_or_create(commune=actor.commune, user=user, role=Role.RELATIVE)
    if order is None:
        order = (
            Contact.objects.filter(home=home).order_by("-order").values_list("order", flat=True).first() or 0
        ) + 1
    contact = Contact.objects.create(
        commune=actor.commune,
        home=home,
        user=user,
        name=name.strip(),
        phone=phone.strip(),
        email=email.strip(),
        kind=kind,
        order=order,
        available_from=available_from,
        available_until=available_until,
    )
    log_for(actor, "homecare.contact.added", obj=contact, data={"order": order, "kind": kind})
    return contact


# Setting up from the staff pages (views/setup.py): the checks, then the changes above and below.

SETTINGS_LIMITS: dict[str, tuple[int, int]] = {
    "inactivity_threshold_minutes": (30, 2880),
    "inactivity_warning_minutes": (1, 120),
    "ack_minutes": (1, 60),
    "entry_delay_s": (0, 600),
    "exit_delay_s": (0, 600),
    "door_open_night_minutes": (1, 240),
}
SUPERVISION_LIMITS = (5, 10080)  # five minutes to a week


def home_settings_errors(home: Home, values: dict[str, Any]) -> dict[str, list[str]]:
    """What is wrong with these settings, field by field, in words for the staff member (empty: all good)."""
    errors: dict[str, list[str]] = {}

    def wrong(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for field, (low, high) in SETTINGS_LIMITS.items():
        value = values.get(field)
        if value is not None and not low <= value <= high:
            wrong(field, _("Indiquez un nombre entre %(low)s et %(high)s.") % {"low": low, "high": high})
    start, end = values.get("active_from"), values.get("active_until")
    if start is not None and start == end:
        wrong("active_until", _("La fin de journée doit être différente du début."))
    threshold = values.get("inactivity_threshold_minutes")
    warning = values.get("inactivity_warning_minutes")
    if (
        threshold is not None
        and warning is not None
        and warning >= threshold
        and "inactivity_warning_minutes" not in errors
    ):
        wrong(
            "inactivity_warning_minutes",
            _("L'avertissement vient avant l'alarme : indiquez moins de minutes que le seuil."),
        )
    room = (values.get("morning_check_room") or "").strip()
    check = values.get("morning_check_time")
    if check is not None and not room:
        wrong("morning_check_room", _("Indiquez la pièce où un mouvement est attendu."))
    if room and check is None:
        wrong("morning_check_time", _("Indiquez l'heure avant laquelle un mouvement est attendu."))
    if room:
        rooms = {
            r.strip().lower()
            for r in Device.objects.filter(home=home, kind=Device.Kind.MOTION).values_list("room", flat=True)
            if r.strip()
        }
        if rooms and room.lower() not in rooms:
            wrong(
                "morning_check_room",
                _("Aucun détecteur de mouvement dans cette pièce. Pièces équipées : %(rooms)s.")
                % {"rooms": ", ".join(sorted(rooms))},
            )
    return errors


@transaction.atomic
def home_configure(*, actor: Actor, home: Home, now: datetime | None = None, **settings: Any) -> Home:
    """The settings page: checks the values together (hours, thresholds, morning rule), then saves them."""
    _staff(actor)
    errors = home_settings_errors(home, settings)
    if errors:
        raise ValidationError(errors)
    return home_update_settings(actor=actor, home=home, now=now, **settings)


@transaction.atomic
def gateway_reset_password(*, actor: Actor, gateway: Gateway) -> tuple[Gateway, str]:
    """A new MQTT password for the gateway (shown once); the old hash is replaced, so the old password stops
    working as soon as the broker's password file is written again (``manage.py homecare_broker_passwords``)."""
    _staff(actor)
    gateway = Gateway.objects.select_for_update().get(pk=gateway.pk)
    password = secrets.token_urlsafe(18)
    gateway.password_hash = mosquitto_password_hash(password)
    gateway.save(update_fields=["password_hash"])
    log_for(actor, "homecare.gateway.password_reset", obj=gateway, data={"username": gateway.mqtt_username})
    return gateway, password


@transaction.atomic
def device_update(
    *,
    actor: Actor,
    device: Device,
    room: str,
    supervision_minutes: int,
    label: str | None = None,
    now: datetime | None = None,
) -> Device:
    """Changes a device's room, its supervision period (the silence deadline follows) and its label."""
    _staff(actor)
    low, high = SUPERVISION_LIMITS
    if not low <= supervision_minutes <= high:
        raise ValidationError(
            {
                "supervision_minutes": _("Indiquez un nombre entre %(low)s et %(high)s.")
                % {"low": low, "high": high}
            }
        )
    device = Device.objects.select_for_update().get(pk=device.pk)
    now = now or timezone.now()
    before = {"room": device.room, "supervision_minutes": device.supervision_minutes}
    device.room = room.strip()[:60]
    changed = ["room"]
    if label is not None:
        device.label = label.strip()[:120]
        changed.append("label")
    if supervision_minutes != device.supervision_minutes:
        device.supervision_minutes = supervision_minutes
        if device.supervision_deadline is not None:
            # The period counts from the last message (or from now for a device never heard).
            device.supervision_deadline = (device.last_seen_at or now) + timedelta(
                minutes=supervision_minutes
            )
        changed += ["supervision_minutes", "supervision_deadline"]
    device.save(update_fields=changed)
    log_for(
        actor,
        "homecare.device.updated",
        obj=device,
        data={"before": before, "room": device.room, "supervision_minutes": device.supervision_minutes},
    )
    return device


@transaction.atomic
def device_remove(*, actor: Actor, device: Device) -> None:
    """Removes a device (its messages go with it; past alarms stay, without the device). Refused while one of
    its alarms is open: close the alarm first, so that nobody loses track of it."""
    _staff(actor)
    device = Device.objects.select_for_update().select_related("home").get(pk=device.pk)
    if Alarm.objects.filter(device=device, state__in=Alarm.OPEN_STATES).exists():
        raise ValidationError(
            _(
                "Une alarme de cet appareil est en cours. Terminez-la d'abord depuis la console : "
                "on ne retire pas un appareil pendant qu'on s'occupe d'une alarme."
            )
        )
    log_for(
        actor,
        "homecare.device.removed",
        obj=device.home,
        data={"device": device.pk, "friendly_name": device.friendly_name, "kind": device.kind},
    )
    device.delete()


def check_contact_hours(available_from: time | None, available_until: time | None) -> None:
    if (available_from is None) != (available_until is None):
        raise ValidationError(
            {
                "available_until": _(
                    "Indiquez les deux heures, ou aucune si la personne est joignable tout le temps."
                )
            }
        )
    if available_from is not None and available_from == available_until:
        raise ValidationError({"available_until": _("Les deux heures doivent être différentes.")})


@transaction.atomic
def contact_update(
    *,
    actor: Actor,
    contact: Contact,
    name: str,
    phone: str = "",
    email: str = "",
    kind: str = Contact.Kind.RELATIVE,
    available_from: time | None = None,
    available_until: time | None = None,
) -> Contact:
    """Changes who to call and when. A new phone or email finds or makes the person's account, as when adding."""
    _staff(actor)
    if kind not in Contact.Kind.values:
        raise ValidationError({"kind": _("Choisissez le lien avec la personne.")})
    if not name.strip():
        raise ValidationError({"name": _("Indiquez le nom de la personne à prévenir.")})
    check_contact_hours(available_from, available_until)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    reached_differently = (phone.strip(), email.strip()) != (contact.phone, contact.email)
    contact.name, contact.phone, contact.email = name.strip(), phone.strip(), email.strip()
    contact.kind, contact.available_from, contact.available_until = kind, available_from, available_until
    if kind == Contact.Kind.OPERATOR:
        contact.user = None
    elif reached_differently or contact.user is None:
        contact.user = _find_or_create_person(actor.commune, name=name, phone=phone, email=email.strip())
    contact.full_clean(exclude=["commune", "home", "user"])
    contact.save()
    log_for(actor, "homecare.contact.updated", obj=contact, data={"kind": kind})
    return contact


def _renumber(home: Home) -> list[Contact]:
    """The home's contacts, locked, in call order, numbered 1, 2, 3... (gaps and ties from older data fixed)."""
    contacts = list(Contact.objects.select_for_update().filter(home=home).order_by("order", "pk"))
    for position, contact in enumerate(contacts, start=1):
        if contact.order != position:
            contact.order = position
            contact.save(update_fields=["order"])
    return contacts


@transaction.atomic
def contact_move(*, actor: Actor, contact: Contact, direction: str) -> Contact:
    """One place earlier (``up``) or later (``down``) in the call chain; at either end nothing changes."""
    _staff(actor)
    if direction not in ("up", "down"):
        raise ValidationError(_("Choisissez de monter ou de descendre la personne dans la liste."))
    contacts = _renumber(Home.objects.get(pk=contact.home_id))
    index = next(i for i, c in enumerate(contacts) if c.pk == contact.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(contacts):
        return contacts[index]
    moved, swapped = contacts[index], contacts[other]
    moved.order, swapped.order = swapped.order, moved.order
    moved.save(update_fields=["order"])
    swapped.save(update_fields=["order"])
    log_for(actor, "homecare.contact.moved", obj=moved, data={"direction": direction, "order": moved.order})
    return moved


@transaction.atomic
def contact_remove(*, actor: Actor, contact: Contact) -> None:
    """Takes someone out of the call chain; the others close up. Their account and past alarms stay."""
    _staff(actor)
    contact = Contact.objects.select_for_update().select_related("home").get(pk=contact.pk)
    home = contact.home
    log_for(actor, "homecare.contact.removed", obj=home, data={"contact": contact.pk, "name": contact.name})
    contact.delete()
    _renumber(home)
