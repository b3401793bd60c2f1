"""notify(): channels, preferences, quiet hours, rendering in the person's language, delivery from the
queue."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage, send_mail
from django.db import transaction
from django_scopes import scope, scopes_disabled
from huey.contrib.djhuey import HUEY

from mairie.core.models import LoginCode, LoginFailure, Notification, OutboxMessage, User
from mairie.core.notifications import delivery
from mairie.core.notifications.backends import COMMUNE_HEADER
from mairie.core.notifications.quiet_hours import quiet_period_end
from mairie.core.services.notifications import notify
from mairie.core.tasks import deliver_due_notifications, purge_expired_login_records
from tests.core.notifications_support import BrokenSmsBackend, add_test_templates, run_scheduled_tasks
from tests.factories import make_user

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def _setup(settings):
    add_test_templates(settings)
    settings.SMS_BACKEND = "mairie.core.notifications.sms.OutboxSmsBackend"
    # Django's test runner swaps in its locmem email backend; these tests check the outbox backend.
    settings.EMAIL_BACKEND = "mairie.core.notifications.backends.OutboxEmailBackend"
    HUEY.flush()
    yield
    HUEY.flush()


@pytest.fixture
def resident(commune):
    return make_user(commune, first_name="Lucie", email="lucie@example.org", phone="+33612345678")


def _notify(recipient, commune, **kwargs):
    kwargs.setdefault("template", "tests/visit")
    kwargs.setdefault("context", {"day": "mardi", "note": "Apportez vos lunettes"})
    with scope(commune=commune):
        return notify(recipient=recipient, commune=commune, **kwargs)


def _outbox(channel=None):
    with scopes_disabled():  # every commune's, and platform mail
        messages = OutboxMessage.objects.all()
        return list(messages.filter(channel=channel) if channel else messages)


def _set(user: User, **fields) -> None:
    for name, value in fields.items():
        setattr(user, name, value)
    user.save()


# Channels


def test_default_channels_are_in_app_email_and_sms_when_the_person_has_them(commune, resident):
    rows = _notify(resident, commune)
    assert [row.channel for row in rows] == ["in_app", "email", "sms"]


def test_no_email_nor_phone_means_in_app_only(commune):
    person = make_user(commune, email="", phone=None)
    _set(person, email=None)
    rows = _notify(person, commune)
    assert [row.channel for row in rows] == ["in_app"]


def test_preferences_turn_channels_off(commune, resident):
    _set(resident, notify_by_email=False)
    assert [row.channel for row in _notify(resident, commune)] == ["in_app", "sms"]
    _set(resident, notify_by_email=True, notify_by_sms=False)
    assert [row.channel for row in _notify(resident, commune)] == ["in_app", "email"]


def test_explicit_channels_restrict_and_still_respect_preferences(commune, resident):
    _set(resident, notify_by_sms=False)
    assert [row.channel for row in _notify(resident, commune, channels=["sms", "email"])] == ["email"]


def test_respect_preferences_false_sends_on_exactly_the_channels_asked(commune, resident):
    _set(resident, notify_by_sms=False, notify_by_email=False)
    rows = _notify(resident, commune, channels=["sms"], respect_preferences=False, urgent=True)
    assert [row.channel for row in rows] == ["sms"]
    with scopes_disabled():
        delivery.deliver(rows[0].pk)
    assert _outbox("sms")[0].to == "+33612345678"


def test_landline_gets_no_sms(commune):
    person = make_user(commune, phone="+33145678901")
    assert "sms" not in [row.channel for row in _notify(person, commune)]


def test_erased_or_closed_account_gets_nothing(commune, resident):
    _set(resident, is_active=False)
    assert _notify(resident, commune) == []


def test_unknown_channel_is_a_programming_error(commune, resident):
    with pytest.raises(ValueError, match="pigeon"):
        _notify(resident, commune, channels=["pigeon"])


# Rendering


def test_each_channel_gets_its_own_text_in_the_layout(commune, resident):
    rows = {row.channel: row for row in _notify(resident, commune, url="/ateliers/3/")}
    assert rows["in_app"].subject == "[fr] Visite le mardi"
    assert rows["in_app"].body == "Dans le site : Apportez vos lunettes"
    email = rows["email"].body
    assert email.startswith("Bonjour Lucie,")
    assert "Pour Lucie à Val-de-Brume : Apportez vos lunettes" in email
    assert "https://val-de-brume.test/ateliers/3/" in email
    assert "https://val-de-brume.test/mon-compte/preferences/" in email
    assert (
        rows["sms"].body
        == "Val-de-Brume : SMS mardi : Apportez vos lunettes https://val-de-brume.test/ateliers/3/"
    )


def test_rendered_in_the_recipients_language(commune, resident):
    _set(resident, language="en")
    english = {row.channel: row for row in _notify(resident, commune)}
    _set(resident, language="fr")
    french = {row.channel: row for row in _notify(resident, commune)}
    assert english["email"].subject.startswith("[en]")
    assert "Langue : en. Confirmé : yes." in english["email"].body
    assert english["email"].body.startswith("Hello Lucie,")  # the layout, from the English catalogue
    assert french["email"].body.startswith("Bonjour Lucie,")
    assert french["email"].subject.startswith("[fr]")
    assert "Langue : fr. Confirmé : oui." in french["email"].body


def test_plain_text_is_not_html_escaped(commune, resident):
    rows = _notify(resident, commune, context={"day": "<lundi>", "note": "Dupont & fils"})
    email = next(row for row in rows if row.channel == "email")
    assert "Dupont & fils" in email.body and "&amp;" not in email.body
    assert email.subject == "[fr] Visite le <lundi>"


def test_missing_channel_templates_fall_back_to_the_subject(commune, resident):
    rows = {row.channel: row for row in _notify(resident, commune, template="tests/subject_only")}
    assert rows["in_app"].body == "Rien que le sujet mardi"
    assert rows["sms"].body == "Val-de-Brume : Rien que le sujet mardi"


def test_a_template_that_does_not_exist_fails_loudly(commune, resident):
    from django.template import TemplateDoesNotExist

    with pytest.raises(TemplateDoesNotExist):
        _notify(resident, commune, template="tests/nothing_here")


# Delivery through the queue


def test_email_and_sms_leave_once_the_transaction_commits(
    commune, resident, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        rows = _notify(resident, commune)
        assert _outbox() == []  # nothing leaves before the commit
    assert len(callbacks) == 2
    email, sms = _outbox("email")[0], _outbox("sms")[0]
    assert email.to == "lucie@example.org" and email.subject == "[fr] Visite le mardi"
    assert email.commune == commune and sms.commune == commune
    assert sms.body.startswith("Val-de-Brume : SMS mardi")
    with scopes_disabled():
        statuses = dict(
            Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list("channel", "status")
        )
    assert statuses == {"in_app": "sent", "email": "sent", "sms": "sent"}


def test_nothing_leaves_when_the_transaction_rolls_back(
    commune, resident, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _notify(resident, commune)
        raise RuntimeError("the caller's service failed")
    assert callbacks == []
    assert _outbox() == []
    with scopes_disabled():
        assert not Notification.objects.exists()


def test_a_row_is_never_sent_twice(commune, resident):
    rows = _notify(resident, commune, channels=["email"])
    with scopes_disabled():
        assert delivery.deliver(rows[0].pk) is delivery.Outcome.SENT
        assert delivery.deliver(rows[0].pk) is delivery.Outcome.NOT_CLAIMED
    deliver_due_notifications.call_local()
    assert len(_outbox("email")) == 1


def test_email_records_the_commune_and_drops_the_internal_header(commune):
    message = EmailMessage("Objet", "Texte", to=["a@example.org"], headers={COMMUNE_HEADER: str(commune.pk)})
    message.send()
    stored = _outbox("email")[0]
    assert stored.commune == commune and stored.to == "a@example.org"
    assert COMMUNE_HEADER not in message.extra_headers


def test_platform_mail_is_kept_without_commune(commune):
    send_mail("Bienvenue", "Texte", None, ["b@example.org"])
    assert _outbox("email")[0].commune is None
    assert mail.outbox == []


def test_address_removed_before_delivery_skips_the_row(commune, resident):
    rows = _notify(resident, commune, channels=["email"])
    _set(resident, email=None)
    with scopes_disabled():
        assert delivery.deliver(rows[0].pk) is delivery.Outcome.SKIPPED
        assert Notification.objects.get(pk=rows[0].pk).status == "skipped"
    assert _outbox() == []


def test_failures_are_retried_then_marked_failed(
    commune, resident, settings, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "tests.core.notifications_support.BrokenSmsBackend"
    BrokenSmsBackend.calls = 0
    start = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
    with time_machine.travel(start, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            rows = _notify(resident, commune, channels=["sms"])
        with scopes_disabled():
            row = Notification.objects.get(pk=rows[0].pk)
        assert (row.status, row.attempts) == ("pending", 1)
        assert "provider unreachable" in row.last_error
        assert row.send_after == start + timedelta(minutes=1)
        for waited in (1, 2, 4, 8):  # minutes between the attempts
            clock.shift(timedelta(minutes=waited) - timedelta(seconds=1))
            assert run_scheduled_tasks() == 0  # not before its time
            clock.shift(timedelta(seconds=1))
            assert run_scheduled_tasks() == 1
        row.refresh_from_db()
        assert (row.status, row.attempts) == ("failed", delivery.MAX_ATTEMPTS)
        assert "provider unreachable" in row.last_error
        clock.shift(timedelta(hours=1))
        assert run_scheduled_tasks() == 0  # Huey has no retry left
        deliver_due_notifications.call_local()  # and the ticker leaves a failed row alone
    assert BrokenSmsBackend.calls == delivery.MAX_ATTEMPTS
    assert _outbox() == []


def test_refused_number_fails_at_once(commune, resident, settings):
    settings.SMS_BACKEND = "tests.core.notifications_support.RefusingSmsBackend"
    rows = _notify(resident, commune, channels=["sms"])
    with scopes_disabled():
        assert delivery.deliver(rows[0].pk) is delivery.Outcome.FAILED
        row = Notification.objects.get(pk=rows[0].pk)
    assert (row.status, row.attempts) == ("failed", 1) and "invalid number" in row.last_error


def test_ticker_sends_rows_whose_task_was_lost(commune, resident):
    rows = _notify(resident, commune, channels=["email", "sms"])  # no commit here: the task was never queued
    assert _outbox() == []
    deliver_due_notifications.call_local()
    assert len(_outbox()) == 2
    with scopes_disabled():
        assert set(
            Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list("status", flat=True)
        ) == {"sent"}


def test_a_worker_that_died_while_sending_is_replaced_after_the_lease(commune, resident):
    start = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
    with time_machine.travel(start, tick=False) as clock:
        rows = _notify(resident, commune, channels=["email"])
        assert delivery.claim_due() == [rows[0].pk]  # a worker took it, then died
        deliver_due_notifications.call_local()
        assert _outbox() == []  # others leave it alone while the lease runs
        clock.shift(delivery.LEASE + timedelta(seconds=1))
        deliver_due_notifications.call_local()
    assert len(_outbox("email")) == 1


def test_claiming_twice_takes_each_row_once(commune, resident):
    _notify(resident, commune, channels=["email", "sms"])
    first = delivery.claim_due()
    assert len(first) == 2 and delivery.claim_due() == []


# Quiet hours


@pytest.mark.parametrize(
    ("now", "start", "end", "expected"),
    [
        ("2026-01-15 23:00", "22:00", "07:00", "2026-01-16 07:00"),  # evening, wraps midnight
        ("2026-01-16 05:30", "22:00", "07:00", "2026-01-16 07:00"),  # early morning
        ("2026-01-16 07:00", "22:00", "07:00", None),  # the end itself is no longer quiet
        ("2026-01-16 12:00", "22:00", "07:00", None),
        ("2026-01-16 13:30", "12:30", "14:00", "2026-01-16 14:00"),  # a nap, same day
        ("2026-01-16 15:00", "12:30", "14:00", None),
        ("2026-01-16 15:00", "09:00", "09:00", None),  # equal bounds: no quiet period
        ("2026-03-28 23:00", "22:00", "07:00", "2026-03-29 07:00"),  # across the change to summer time
    ],
)
def test_quiet_period_end(now, start, end, expected):
    moment = datetime.fromisoformat(now).replace(tzinfo=PARIS)
    result = quiet_period_end(moment, time.fromisoformat(start), time.fromisoformat(end), PARIS)
    assert result == (datetime.fromisoformat(expected).replace(tzinfo=PARIS) if expected else moment)


def test_quiet_hours_in_utc_are_read_in_paris_time():
    moment = datetime(2026, 7, 1, 21, 30, tzinfo=ZoneInfo("UTC"))  # 23:30 in Paris
    result = quiet_period_end(moment, time(22, 0), time(7, 0))
    assert result == datetime(2026, 7, 2, 7, 0, tzinfo=PARIS)


def test_quiet_hours_delay_email_and_sms_until_they_end(
    commune, resident, django_capture_on_commit_callbacks
):
    _set(resident, quiet_hours_start=time(22, 0), quiet_hours_end=time(7, 0))
    with time_machine.travel(datetime(2026, 1, 15, 23, 0, tzinfo=PARIS), tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            rows = {row.channel: row for row in _notify(resident, commune)}
        assert rows["in_app"].status == "sent"  # on the site at once
        assert rows["email"].send_after == datetime(2026, 1, 16, 7, 0, tzinfo=PARIS)
        assert _outbox() == []
        clock.move_to(datetime(2026, 1, 16, 6, 59, tzinfo=PARIS))
        deliver_due_notifications.call_local()
        assert _outbox() == []
        clock.move_to(datetime(2026, 1, 16, 7, 0, 30, tzinfo=PARIS))
        deliver_due_notifications.call_local()
    assert {m.channel for m in _outbox()} == {"email", "sms"}


def test_urgent_messages_ignore_quiet_hours(commune, resident, django_capture_on_commit_callbacks):
    _set(resident, quiet_hours_start=time(22, 0), quiet_hours_end=time(7, 0))
    with (
        time_machine.travel(datetime(2026, 1, 15, 23, 0, tzinfo=PARIS), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        _notify(resident, commune, urgent=True)
    assert {m.channel for m in _outbox()} == {"email", "sms"}


# Nightly purge


def test_nightly_purge_removes_old_codes_and_failures(commune, resident):
    now = datetime(2026, 3, 2, 3, 17, tzinfo=PARIS)
    old = now - timedelta(days=1, minutes=1)
    recent = now - timedelta(hours=2)
    for expires in (old, recent):
        LoginCode.objects.create(
            user=resident,
            purpose="login",
            channel="email",
            code_hash="x",
            link_secret_hash="y",
            expires_at=expires,
        )
    LoginFailure.objects.create(key="user:1", created_at=old)
    LoginFailure.objects.create(key="user:1", created_at=recent)
    assert purge_expired_login_records(now=now) == (1, 1)
    assert list(LoginCode.objects.values_list("expires_at", flat=True)) == [recent]
    assert list(LoginFailure.objects.values_list("created_at", flat=True)) == [recent]


def test_tickers_are_scheduled():
    every_minute = {task.name for task in HUEY.read_periodic(datetime(2026, 3, 2, 14, 41))}
    at_night = {task.name for task in HUEY.read_periodic(datetime(2026, 3, 2, 3, 17))}
    assert "deliver_due_notifications" in every_minute and "purge_login_records" not in every_minute
    assert {"deliver_due_notifications", "purge_login_records"} <= at_night


def test_a_sign_in_code_is_blanked_from_the_stored_notification_once_sent(
    commune, django_capture_on_commit_callbacks
):
    from mairie.core.notifications.delivery import SECRET_REMOVED
    from mairie.core.services.notifications import notify
    from tests.factories import make_user

    person = make_user(commune, phone="+33612345678")
    with scope(commune=commune), django_capture_on_commit_callbacks(execute=True):
        [row] = notify(
            recipient=person,
            commune=commune,
            template="core/login_code",
            context={"code": "481516", "link": "https://example.test/l/1/x", "minutes": 15},
            channels=["sms"],
            respect_preferences=False,
            urgent=True,
        )
    with scope(commune=commune):
        row.refresh_from_db()
    assert row.status == "sent"
    assert "481516" not in row.body and row.body == SECRET_REMOVED
