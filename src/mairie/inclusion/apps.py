from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InclusionConfig(AppConfig):
    name = "mairie.inclusion"
    label = "inclusion"
    verbose_name = _("Numéripôle")

    def ready(self) -> None:
        from . import cache, registry, tasks  # noqa: F401  (cache invalidation, capabilities, module, tasks)

        registry.register()
