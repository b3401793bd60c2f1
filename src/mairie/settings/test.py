"""Test settings: SQLite in memory unless MAIRIE_TEST_DATABASE_URL points at PostgreSQL; tasks run at once."""

from .base import *  # noqa: F403
from .base import HUEY, PROJECT_DIR
from .env import database_from_url, env_str

DEBUG = False
SECRET_KEY = "test-only-key"  # noqa: S105
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
_url = env_str("MAIRIE_TEST_DATABASE_URL")
if _url:
    DATABASES = {"default": database_from_url(_url, base_dir=str(PROJECT_DIR))}
    DATABASES["default"]["TEST"] = {"NAME": env_str("MAIRIE_TEST_DATABASE_NAME", "test_mairie")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
HUEY = {**HUEY, "huey_class": "huey.MemoryHuey", "immediate": True}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
EMAIL_BACKEND = "mairie.core.notifications.backends.OutboxEmailBackend"
SMS_BACKEND = "mairie.core.notifications.sms.OutboxSmsBackend"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

# DELETE-based flushes between transactional tests on SQLite would hit the append-only triggers.
MAIRIE_SQLITE_AUDIT_TRIGGERS = False
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
