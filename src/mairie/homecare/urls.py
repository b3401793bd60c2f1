"""Homecare URLs (under ``/teleassistance/``). Each views module owns its own ``urlpatterns``."""

from mairie.homecare.views import automation, bridge_health, console, family, relatives, requests, tablet
from mairie.homecare.views import setup as home_setup_views

app_name = "homecare"

urlpatterns = [
    *relatives.urlpatterns,
    *console.urlpatterns,
    *family.urlpatterns,
    *tablet.urlpatterns,
    *requests.urlpatterns,
    *automation.urlpatterns,
    *bridge_health.urlpatterns,
    *home_setup_views.urlpatterns,
]
