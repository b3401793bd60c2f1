"""The embedded default: SQLite, outbox mail and SMS, demo data. Never for production."""

from .base import *  # noqa: F403
from .env import env_bool, env_str

DEBUG = env_bool("MAIRIE_DEBUG", True)
# Links in the demo's emails and SMS point at the local server (plain HTTP, `make run`'s port).
MAIRIE_LINK_SCHEME = env_str("MAIRIE_LINK_SCHEME", "http")
MAIRIE_LINK_PORT = env_str("MAIRIE_LINK_PORT", env_str("PORT", "8000"))
# The demo serves static files straight from the apps, no collectstatic step needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
