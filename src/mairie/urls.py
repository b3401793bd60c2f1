from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminAuthenticationForm

from mairie.core.views.pages import healthz

admin.site.site_header = "Mairie 4.0 — exploitation de la plateforme"
# Platform operators only (superusers), second factor passed: the admin reaches every commune, people's accounts
# and the bridge's dead letters (alarm payloads). Its sign-in form asks for the authenticator code too.
admin.site.has_permission = lambda request: (  # type: ignore[method-assign]
    request.user.is_active and request.user.is_superuser and request.user.is_verified()  # type: ignore[attr-defined]
)
admin.site.login_form = OTPAdminAuthenticationForm
admin.site.login_template = "otp/admin111/login.html"

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
