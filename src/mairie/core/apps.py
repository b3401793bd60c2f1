from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "mairie.core"
    label = "core"
    verbose_name = _("Socle")

    def ready(self) -> None:
        from . import signals, tasks  # noqa: F401  (registers signal receivers and queue tasks)
