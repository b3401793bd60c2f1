"""Statistics for the mediator and the commune (capability ``inclusion.stats``): page, CSV, XLSX, records."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from mairie.core.permissions import has_capability, require_capability
from mairie.core.services.audit import log_action
from mairie.inclusion.charts import bar_chart
from mairie.inclusion.decorators import module_required
from mairie.inclusion.exports import activity_participations, activity_rows, stats_csv, stats_xlsx
from mairie.inclusion.forms import StatsPeriodForm
from mairie.inclusion.registry import MODULE_KEY
from mairie.inclusion.selectors.stats import Stats, statistics
from mairie.inclusion.views.common import commune_of, user_of

STATS = "inclusion.stats"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _period(request: HttpRequest) -> tuple[StatsPeriodForm, date, date]:
    today = timezone.localdate()
    default_start = today.replace(month=1, day=1)
    form = StatsPeriodForm(request.GET or None, initial={"start": default_start, "end": today})
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data["start"], form.cleaned_data["end"]
    return form, default_start, today


def _charts(stats: Stats) -> list:  # type: ignore[type-arg]
    people, participations = _("personnes"), _("participations")
    return [
        bar_chart(
            "theme",
            _("Participations par thème"),
            [(r.label, r.participations or 0) for r in stats.by_theme],
            participations,
        ),
        bar_chart(
            "age",
            _("Personnes accompagnées par tranche d'âge"),
            [(r.label, r.people or 0) for r in stats.by_age],
            people,
        ),
        bar_chart(
            "residence",
            _("Personnes accompagnées par commune de résidence"),
            [(r.label, r.people or 0) for r in stats.by_residence[:15]],
            people,
        ),
        bar_chart(
            "autonomy",
            _("Participations par niveau d'autonomie"),
            [(r.label, r.participations or 0) for r in stats.by_autonomy],
            participations,
        ),
        bar_chart(
            "month",
            _("Participations par mois"),
            [(r.label, r.participations or 0) for r in stats.by_month],
            participations,
        ),
    ]


@require_capability(STATS)
@module_required(MODULE_KEY)
@require_GET
def stats_page(request: HttpRequest) -> HttpResponse:
    form, start, end = _period(request)
    stats = statistics(commune_of(request), start, end)
    tables = {key: rows for key, _title, rows in stats.breakdowns()}
    return render(
        request,
        "inclusion/stats.html",
        {
            "form": form,
            "stats": stats,
            "charts": [(chart, tables[chart.key]) for chart in _charts(stats)],
            "query": f"start={start.isoformat()}&end={end.isoformat()}",
            "perms_manage": has_capability(user_of(request), commune_of(request), "inclusion.manage"),
        },
    )


def _exported(request: HttpRequest, kind: str, start: date, end: date) -> None:
    log_action(
        "inclusion.stats.exported",
        commune=commune_of(request),
        actor=user_of(request),
        data={"format": kind, "start": start.isoformat(), "end": end.isoformat()},
    )


@require_capability(STATS)
@module_required(MODULE_KEY)
@require_GET
def stats_export_csv(request: HttpRequest) -> HttpResponse:
    _form, start, end = _period(request)
    stats = statistics(commune_of(request), start, end)
    _exported(request, "csv", start, end)
    response = HttpResponse("\ufeff" + stats_csv(stats), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="numeripole-{start}-{end}.csv"'
    return response


@require_capability(STATS)
@module_required(MODULE_KEY)
@require_GET
def stats_export_xlsx(request: HttpRequest) -> HttpResponse:
    _form, start, end = _period(request)
    stats = statistics(commune_of(request), start, end)
    _exported(request, "xlsx", start, end)
    response = HttpResponse(stats_xlsx(stats), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="numeripole-{start}-{end}.xlsx"'
    return response


@require_capability(STATS)  # type: ignore[type-var]
@module_required(MODULE_KEY)
@require_GET
def activities_export_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every participation of the period with La Coop's fields (no names), streamed row by row."""
    _form, start, end = _period(request)
    _exported(request, "activites-csv", start, end)
    rows = activity_rows(activity_participations(commune_of(request), start, end))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="numeripole-activites-{start}-{end}.csv"'
    return response
