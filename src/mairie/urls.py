from django.contrib import admin
from django.urls import include, path

from mairie.core.views.pages import healthz

admin.site.site_header = "Mairie 4.0 — exploitation de la plateforme"
admin.site.has_permission = lambda request: request.user.is_active and request.user.is_superuser  # type: ignore[method-assign]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("numeripole/", include("mairie.inclusion.urls")),
    path("reservations/", include("mairie.booking.urls")),
    path("teleassistance/", include("mairie.homecare.urls")),
    path("", include("mairie.core.urls")),
]

handler404 = "mairie.core.views.pages.not_found"
handler500 = "mairie.core.views.pages.server_error"
handler403 = "mairie.core.views.pages.forbidden"
