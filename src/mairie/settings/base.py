"""Settings shared by every environment. Values come from the environment (see docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .env import database_from_url, env_bool, env_int, env_list, env_str

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = PACKAGE_DIR.parent.parent
VAR_DIR = Path(env_str("MAIRIE_VAR_DIR", str(PROJECT_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env_str("MAIRIE_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("MAIRIE_DEBUG", False)
ALLOWED_HOSTS = env_list("MAIRIE_ALLOWED_HOSTS", ["*"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "huey.contrib.djhuey",
    "channels",
    "mairie.core",
    "mairie.booking",
    "mairie.inclusion",
    "mairie.homecare",
]

MIDDLEWARE = [
    "mairie.core.middleware.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "mairie.core.middleware.CommuneMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mairie.core.middleware.AccountMiddleware",
]

ROOT_URLCONF = "mairie.urls"
ASGI_APPLICATION = "mairie.asgi.application"
WSGI_APPLICATION = "mairie.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mairie.core.context_processors.platform",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env_str("MAIRIE_DATABASE_URL", f"sqlite:///{VAR_DIR / 'mairie.sqlite3'}"), base_dir=str(PROJECT_DIR)
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = ["mairie.core.auth_backends.LoginBackend"]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# Sessions: residents stay signed in for two weeks on their own device;
# staff who see health or alarm data are signed out after MAIRIE_SENSITIVE_IDLE_MINUTES without activity.
SESSION_COOKIE_AGE = env_int("MAIRIE_SESSION_DAYS", 14) * 24 * 3600
SENSITIVE_IDLE_SECONDS = env_int("MAIRIE_SENSITIVE_IDLE_MINUTES", 30) * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "mairie.core.views.pages.csrf_failure"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_MAX_AGE = 3600

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("MAIRIE_REDIS_URL")}
        if env_str("MAIRIE_REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Background jobs: Huey, durable. SQLite file by default; Redis when several workers share the work.
QUEUE = env_str("MAIRIE_QUEUE", "sqlite")
if QUEUE not in {"sqlite", "redis"}:
    raise ImproperlyConfigured(f"MAIRIE_QUEUE must be sqlite or redis, not {QUEUE!r}.")
HUEY = (
    {
        "huey_class": "huey.RedisHuey",
        "name": "mairie",
        "url": env_str("MAIRIE_REDIS_URL", required=True, when="when MAIRIE_QUEUE is redis"),
        "immediate": False,
        "results": False,
        "consumer": {"workers": env_int("MAIRIE_WORKER_THREADS", 4), "worker_type": "thread"},
    }
    if QUEUE == "redis"
    else {
        "huey_class": "huey.SqliteHuey",
        "name": "mairie",
        "filename": str(VAR_DIR / "queue.sqlite3"),
        "immediate": False,
        "results": False,
        "consumer": {"workers": env_int("MAIRIE_WORKER_THREADS", 4), "worker_type": "thread"},
    }
)

CHANNEL_LAYERS = (
    {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [env_str("MAIRIE_REDIS_URL")]},
        }
    }
    if env_str("MAIRIE_REDIS_URL")
    else {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
)

# Mail and SMS. The outbox backends keep messages in the database, listed on a staff page;
# production sets real ones (docs/configuration.md).
EMAIL_BACKEND = env_str("MAIRIE_EMAIL_BACKEND", "mairie.core.notifications.backends.OutboxEmailBackend")
EMAIL_HOST = env_str("MAIRIE_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("MAIRIE_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("MAIRIE_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("MAIRIE_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("MAIRIE_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env_str("MAIRIE_FROM_EMAIL", "Mairie 4.0 <ne-pas-repondre@mairie.invalid>")
SMS_BACKEND = env_str("MAIRIE_SMS_BACKEND", "mairie.core.notifications.sms.OutboxSmsBackend")
SMS_SENDER = env_str("MAIRIE_SMS_SENDER", "MAIRIE")
BREVO_API_KEY = env_str("MAIRIE_BREVO_API_KEY")
# Brevo's current endpoint (POST /v3/transactionalSMS/sms is deprecated since 2025).
BREVO_API_URL = env_str("MAIRIE_BREVO_API_URL", "https://api.brevo.com/v3/transactionalSMS/send")
# Web Push (notifications on a phone or computer, docs/configuration.md). No keys: no push channel, except
# with DEBUG on (the demo), where a key pair is made once and kept in PUSH_VAPID_DEV_KEY_FILE.
PUSH_VAPID_PUBLIC_KEY = env_str("MAIRIE_VAPID_PUBLIC_KEY")
PUSH_VAPID_PRIVATE_KEY = env_str("MAIRIE_VAPID_PRIVATE_KEY")
PUSH_VAPID_SUBJECT = env_str("MAIRIE_VAPID_SUBJECT")
PUSH_VAPID_DEV_KEY_FILE = str(VAR_DIR / "vapid-dev-private-key.txt")
# We POST to the address a browser gives us: only the browsers' push services (Chrome and most Android
# browsers, Firefox, Safari, Edge), never a made-up address inside our network.
PUSH_ENDPOINT_HOSTS = env_list(
    "MAIRIE_PUSH_SERVICE_HOSTS",
    ["fcm.googleapis.com", "push.services.mozilla.com", "push.apple.com", "notify.windows.com"],
)
# Links in emails and SMS: <scheme>://<the commune's first host name>[:<port>]<path>.
MAIRIE_LINK_SCHEME = env_str("MAIRIE_LINK_SCHEME", "https")
MAIRIE_LINK_PORT = env_str("MAIRIE_LINK_PORT", "")

# Login throttling: after this many failures for one account or one address in the window, wait.
LOGIN_MAX_FAILURES = env_int("MAIRIE_LOGIN_MAX_FAILURES", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("MAIRIE_LOGIN_FAILURE_WINDOW_MINUTES", 15) * 60
LOGIN_CODE_TTL_SECONDS = env_int("MAIRIE_LOGIN_CODE_MINUTES", 15) * 60

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("MAIRIE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # Its own handler (run_huey then adds none) and no propagation: each worker line is printed once.
        # Warnings and errors only (failed tasks, retries): not three lines a minute for the tickers.
        "huey": {"level": "WARNING", "handlers": ["console"], "propagate": False},
    },
}

MAIRIE_PLATFORM_NAME = env_str("MAIRIE_PLATFORM_NAME", "Mairie 4.0")
# Shown on the legal notice: who hosts the service (name, postal address, phone), and where its source code is
# (the AGPL asks that people using the service over a network can get it).
MAIRIE_HOSTING_NAME = env_str("MAIRIE_HOSTING_NAME")
MAIRIE_HOSTING_ADDRESS = env_str("MAIRIE_HOSTING_ADDRESS")
MAIRIE_HOSTING_PHONE = env_str("MAIRIE_HOSTING_PHONE")
MAIRIE_SOURCE_URL = env_str("MAIRIE_SOURCE_URL")

# Homecare MQTT broker, as the bridge (manage.py homecare_bridge) and device commands reach it (docs/homecare.md).
HOMECARE_MQTT_HOST = env_str("MAIRIE_MQTT_HOST", "127.0.0.1")
HOMECARE_MQTT_PORT = env_int("MAIRIE_MQTT_PORT", 1883)
HOMECARE_MQTT_USERNAME = env_str("MAIRIE_MQTT_USERNAME")
HOMECARE_MQTT_PASSWORD = env_str("MAIRIE_MQTT_PASSWORD")
# Fixed: the broker keeps this client's session (unacknowledged and queued messages) under this id.
HOMECARE_MQTT_CLIENT_ID = env_str("MAIRIE_MQTT_CLIENT_ID", "mairie-bridge-1")
HOMECARE_MQTT_TLS = env_bool("MAIRIE_MQTT_TLS", False)
HOMECARE_MQTT_CA_FILE = env_str("MAIRIE_MQTT_CA_FILE")
# Where the homes' gateways reach the broker, as written in the Zigbee2MQTT settings shown to staff
# (empty: mqtts://<the site's host name>:8883, the TLS listener of deploy/mosquitto/).
HOMECARE_MQTT_PUBLIC_URL = env_str("MAIRIE_MQTT_PUBLIC_URL")
