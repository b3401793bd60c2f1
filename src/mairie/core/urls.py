"""Core URLs. Each views module owns its own ``urlpatterns``; this file only puts them together."""

from mairie.core.views import account, auth, notifications, pages, privacy, staff

app_name = "core"

urlpatterns = (
    pages.urlpatterns
    + auth.urlpatterns
    + account.urlpatterns
    + notifications.urlpatterns
    + privacy.urlpatterns
    + staff.urlpatterns
)
