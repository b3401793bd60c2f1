from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InclusionConfig(AppConfig):
    name = "mairie.inclusion"
    label = "inclusion"
    verbose_name = _("Numéripôle")

    def ready(self) -> None:
        from . import registry, tasks  # noqa: F401  (capabilities, module, labels, queue tasks)

        registry.register()
