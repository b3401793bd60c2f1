from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingConfig(AppConfig):
    name = "mairie.booking"
    label = "booking"
    verbose_name = _("Réservations")

    def ready(self) -> None:
        from . import registry, tasks  # noqa: F401  (capability, staff card, labels, personal data, tickers)

        registry.register()
