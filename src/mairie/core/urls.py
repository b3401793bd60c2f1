"""Core URLs. Each views module owns its own ``urlpatterns``; this file only puts them together."""

from mairie.core.views import account, auth, notifications, pages, privacy, push, staff

app_name = "core"

urlpatterns = (
    pages.urlpatterns
    + auth.urlpatterns
    + account.urlpatterns
    + notifications.urlpatterns
    + push.urlpatterns
    + privacy.urlpatterns
    + staff.urlpatterns
)
