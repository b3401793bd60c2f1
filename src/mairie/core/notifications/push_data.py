"""The devices a person switched notifications on, in their data download and in their erasure.

Registered with the personal data registry when the delivery module loads (the queue tasks import it at
start-up, in every process).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mairie.core.models import Commune, PushSubscription, User
from mairie.core.personal_data import register_erasure_handler, register_personal_data_provider


def _push_devices(user: User, commune: Commune) -> list[dict[str, Any]]:
    return [
        {
            gettext("Appareil"): device.label,
            gettext("Activé le"): device.created_at,
            gettext("Dernière notification reçue le"): device.last_success_at,
            gettext("Adresse du service de notification"): device.endpoint,
        }
        for device in PushSubscription.objects.filter(commune=commune, user=user).order_by("created_at", "pk")
    ]


def _erase_push_devices(user: User, commune: Commune) -> None:
    PushSubscription.objects.filter(commune=commune, user=user).delete()


register_personal_data_provider(
    "core.push_devices", _("Les appareils qui reçoivent vos notifications"), _push_devices
)
register_erasure_handler(_erase_push_devices)
