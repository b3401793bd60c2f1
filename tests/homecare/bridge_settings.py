"""Settings for the bridge and simulator subprocesses of the MQTT tests: the real base settings on the database
the test created (MAIRIE_DATABASE_URL), with a fast password hasher for seeding and the bridge's log on stderr."""

from mairie.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"mairie.homecare": {"level": "INFO"}},
}
