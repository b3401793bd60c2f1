"""Durations as people say them, for messages and pages."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def human_minutes(minutes: int) -> str:
    """ "2 heures", "30 minutes", "1 jour", "1 h 30"."""
    if minutes and minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return ngettext("%(n)d jour", "%(n)d jours", days) % {"n": days}
    if minutes and minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(n)d heure", "%(n)d heures", hours) % {"n": hours}
    if minutes > 60:
        return _("%(h)d h %(m)02d") % {"h": minutes // 60, "m": minutes % 60}
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
