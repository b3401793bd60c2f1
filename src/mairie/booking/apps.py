from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingConfig(AppConfig):
    name = "mairie.booking"
    label = "booking"
    verbose_name = _("Réservations")

    def ready(self) -> None:
        from mairie.core.models import Role
        from mairie.core.permissions import register_capabilities

        register_capabilities(
            {
                "booking.manage": {
                    Role.MEDIATOR,
                    Role.FABLAB_MANAGER,
                    Role.AGENT,
                    Role.ADMIN,
                    Role.PRACTITIONER,
                    Role.NURSE,
                }
            }
        )
