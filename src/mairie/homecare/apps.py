from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HomecareConfig(AppConfig):
    name = "mairie.homecare"
    label = "homecare"
    verbose_name = _("Maisons connectées et téléassistance")

    def ready(self) -> None:
        from . import registry, tasks  # noqa: F401  (capabilities, module, personal data, queue tasks)

        registry.register()
