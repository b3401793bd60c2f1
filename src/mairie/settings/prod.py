"""Production: every secret comes from the environment, and a missing one stops start-up with its name."""

from .base import *  # noqa: F403
from .env import env_bool, env_int, env_list, env_str

DEBUG = False
SECRET_KEY = env_str("MAIRIE_SECRET_KEY", required=True)
ALLOWED_HOSTS = env_list("MAIRIE_ALLOWED_HOSTS") or [env_str("MAIRIE_ALLOWED_HOSTS", required=True)]
_database_url = env_str("MAIRIE_DATABASE_URL", required=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env_bool("MAIRIE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("MAIRIE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# The header only states consent; a domain joins browsers' preload list when its owner submits it.
SECURE_HSTS_PRELOAD = env_bool("MAIRIE_HSTS_PRELOAD", True)
CSRF_TRUSTED_ORIGINS = env_list("MAIRIE_CSRF_TRUSTED_ORIGINS")

# The outbox backends keep every email and SMS in the database, where staff can read them (sign-in codes
# included): right for the demo, wrong for residents' real messages. Production must name real backends.
if not env_bool("MAIRIE_ALLOW_OUTBOX", False):
    from django.core.exceptions import ImproperlyConfigured

    from .base import EMAIL_BACKEND, SMS_BACKEND

    for _name, _backend in (("MAIRIE_EMAIL_BACKEND", EMAIL_BACKEND), ("MAIRIE_SMS_BACKEND", SMS_BACKEND)):
        if "Outbox" in _backend:
            raise ImproperlyConfigured(
                f"{_name} is the outbox backend ({_backend}), which keeps messages in the database instead of "
                f"sending them. Set a real backend (see docs/configuration.md), or MAIRIE_ALLOW_OUTBOX=true "
                f"for a test installation."
            )

# Web Push: no demo key in production; either no push channel at all, or a complete, valid key pair.
PUSH_VAPID_DEV_KEY_FILE = ""
_vapid_private = env_str("MAIRIE_VAPID_PRIVATE_KEY")
if _vapid_private or env_str("MAIRIE_VAPID_PUBLIC_KEY"):
    from django.core.exceptions import ImproperlyConfigured

    env_str("MAIRIE_VAPID_PRIVATE_KEY", required=True, when="when MAIRIE_VAPID_PUBLIC_KEY is set")
    _vapid_subject = env_str(
        "MAIRIE_VAPID_SUBJECT", required=True, when="when MAIRIE_VAPID_PRIVATE_KEY is set"
    )
    if not _vapid_subject.startswith(("mailto:", "https://")):
        raise ImproperlyConfigured(
            "MAIRIE_VAPID_SUBJECT must be a contact address for the push services: mailto:… or https://…"
        )
    from mairie.core.notifications.push import check_vapid_pair

    check_vapid_pair(_vapid_private, env_str("MAIRIE_VAPID_PUBLIC_KEY"))
