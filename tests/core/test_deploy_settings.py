"""Production settings: the deployment checklist is clean, and a missing secret stops start-up by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "mairie.settings.prod",
    "MAIRIE_SECRET_KEY": "k7#Qv9!zP2mX4wR8tY6uI0oL3aS5dF1gH7jK9lZ2xC4vB6nM8q",
    "MAIRIE_ALLOWED_HOSTS": "services.val-de-brume.fr,mairie.mont-clair.fr",
    "MAIRIE_DATABASE_URL": "postgres://mairie:secret@db.internal:5432/mairie",
    "MAIRIE_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "MAIRIE_SMS_BACKEND": "mairie.core.notifications.sms.BrevoSmsBackend",
}


def run_manage(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("MAIRIE_", "DJANGO_"))}
    return subprocess.run(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
        env={**clean, "MAIRIE_VAR_DIR": str(tmp_path), **env},
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_deployment_checklist_is_clean_with_production_settings(tmp_path):
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "DEBUG", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("missing", ["MAIRIE_SECRET_KEY", "MAIRIE_ALLOWED_HOSTS", "MAIRIE_DATABASE_URL"])
def test_production_refuses_to_start_without_a_required_variable_and_names_it(tmp_path, missing):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != missing}

    result = run_manage(tmp_path, "check", env=env)

    assert result.returncode != 0
    assert f"The environment variable {missing} is required in production" in result.stderr


def test_production_cookies_and_transport_are_locked_down(tmp_path):
    script = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS >= 31536000)"
    )

    result = run_manage(tmp_path, "shell", "--verbosity", "0", "-c", script, env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "True", "True", "True"]


def test_every_page_carries_a_content_security_policy_without_inline_code(client_for, commune):
    response = client_for(commune).get("/")

    assert response.status_code == 200
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["Content-Security-Policy"].split("; ")
    }
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_unknown_host_page_carries_the_policy_too(client, db):
    response = client.get("/", HTTP_HOST="nowhere.test")

    assert response.status_code == 404
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_redis_queue_without_a_redis_address_stops_start_up_and_says_which_variable(tmp_path):
    result = run_manage(tmp_path, "check", env={**PRODUCTION_ENV, "MAIRIE_QUEUE": "redis"})

    assert result.returncode != 0
    assert "MAIRIE_REDIS_URL is required when MAIRIE_QUEUE is redis" in result.stderr


def test_an_unknown_queue_kind_is_refused_by_name(tmp_path):
    result = run_manage(tmp_path, "check", env={**PRODUCTION_ENV, "MAIRIE_QUEUE": "rabbit"})

    assert result.returncode != 0
    assert "MAIRIE_QUEUE must be sqlite or redis, not 'rabbit'" in result.stderr


@pytest.mark.parametrize("variable", ["MAIRIE_EMAIL_BACKEND", "MAIRIE_SMS_BACKEND"])
def test_production_refuses_the_outbox_backends_that_keep_messages_readable(tmp_path, variable):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != variable}

    refused = run_manage(tmp_path, "check", env=env)
    allowed = run_manage(tmp_path, "check", env={**env, "MAIRIE_ALLOW_OUTBOX": "true"})

    assert refused.returncode != 0
    assert f"{variable} is the outbox backend" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
