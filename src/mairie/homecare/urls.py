"""Homecare URLs (under ``/teleassistance/``). Each views module owns its own ``urlpatterns``."""

from mairie.homecare.views import relatives

app_name = "homecare"

urlpatterns = relatives.urlpatterns
