"""Core URLs. Each views module owns its own ``urlpatterns``; this file only puts them together."""

from mairie.core.views import account, auth, pages, staff

app_name = "core"

urlpatterns = pages.urlpatterns + auth.urlpatterns + account.urlpatterns + staff.urlpatterns
