"""The embedded default: SQLite, outbox mail and SMS, demo data. Never for production."""

from .base import *  # noqa: F403
from .env import env_bool

DEBUG = env_bool("MAIRIE_DEBUG", True)
# The demo serves static files straight from the apps, no collectstatic step needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
