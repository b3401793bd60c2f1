"""Small helpers shared by the homecare pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mairie.homecare.models import Alarm, AlarmEvent

SEVERITY_RANK: dict[str, int] = {
    Alarm.Severity.CRITICAL: 0,
    Alarm.Severity.HIGH: 1,
    Alarm.Severity.MEDIUM: 2,
    Alarm.Severity.LOW: 3,
}
# The timeline events that say how far the escalation went.
STEP_EVENTS = (AlarmEvent.Kind.NOTIFIED, AlarmEvent.Kind.OPERATOR, AlarmEvent.Kind.EMERGENCY)


def add_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ``ValidationError`` shown next to the form's fields (or at the top when not a field)."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


def error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def safe_next(request: HttpRequest, default: str) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}):
        return wanted
    return default


def age_text(since: datetime, now: datetime | None = None) -> str:
    """ "il y a 3 min", "il y a 2 h 05", "il y a 3 jours": short enough for a table cell."""
    delta = (now or timezone.now()) - since
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return _("il y a %(n)s s") % {"n": seconds}
    minutes = seconds // 60
    if minutes < 60:
        return _("il y a %(n)s min") % {"n": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("il y a %(h)s h %(m)02d") % {"h": hours, "m": minutes}
    days = hours // 24
    return ngettext("il y a %(n)s jour", "il y a %(n)s jours", days) % {"n": days}


def step_text(alarm: Alarm, last_step: AlarmEvent | None) -> str:
    """How far the escalation went, in words: "étape 2 : Julie Moreau prévenue"."""
    if alarm.escalation_step == 0 or last_step is None:
        return _("pas encore transmise")
    if last_step.kind == AlarmEvent.Kind.NOTIFIED and last_step.contact is not None:
        what = _("%(name)s prévenu·e") % {"name": last_step.contact.name}
    elif last_step.kind == AlarmEvent.Kind.OPERATOR:
        what = _("téléassistance prévenue")
    else:
        number = (last_step.data or {}).get("number", "15 / 112")
        what = _("consigne : appeler le %(number)s") % {"number": number}
    return _("étape %(n)s : %(what)s") % {"n": alarm.escalation_step, "what": what}


def sort_open_alarms(alarms: list[Alarm]) -> list[Alarm]:
    """Unacknowledged first, then the most severe, then the oldest (waiting longest)."""
    return sorted(
        alarms,
        key=lambda a: (a.is_acknowledged, SEVERITY_RANK.get(a.severity, 9), a.raised_at, a.pk),
    )


def parse_period(request: HttpRequest, *, default_days: int = 30) -> tuple[datetime, datetime, Any, Any]:
    """``?du=YYYY-MM-DD&au=YYYY-MM-DD`` (local days, both included) → (start, end) aware datetimes."""
    from datetime import date

    today = timezone.localdate()
    try:
        first = date.fromisoformat(request.GET.get("du", ""))
    except ValueError:
        first = today - timedelta(days=default_days - 1)
    try:
        last = date.fromisoformat(request.GET.get("au", ""))
    except ValueError:
        last = today
    if last < first:
        first, last = last, first
    zone = timezone.get_current_timezone()
    start = datetime.combine(first, datetime.min.time()).replace(tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time()).replace(tzinfo=zone)
    return start, end, first, last
