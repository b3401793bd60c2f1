"""Statistics as CSV and as a spreadsheet (XLSX through openpyxl), and the activity records in La Coop's
vocabulary (one row per person and accompaniment), streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

from mairie.inclusion.models import Participation
from mairie.inclusion.selectors.stats import Stats


def summary_rows(stats: Stats) -> list[tuple[str, Any]]:
    return [
        (_("Période du"), stats.start.isoformat()),
        (_("au"), stats.end.isoformat()),
        (_("Personnes accompagnées (uniques)"), stats.people),
        (_("Nouvelles personnes (premier accompagnement dans la période)"), stats.new_people),
        (_("Participations"), stats.participations),
        (_("Séances collectives"), stats.sessions),
        (_("Accompagnements individuels"), stats.individual),
        (_("Heures de médiation"), stats.mediator_hours),
        (_("Heures de formation reçues (toutes personnes)"), stats.person_hours),
    ]


HEADER = ("section", "libellé", "personnes", "participations", "heures")


def _blank(value: Any) -> Any:
    return "" if value is None else value


def breakdown_rows(stats: Stats) -> Iterator[tuple[Any, ...]]:
    for _key, title, rows in stats.breakdowns():
        for row in rows:
            yield (title, row.label, _blank(row.people), _blank(row.participations), _blank(row.hours))


def stats_csv(stats: Stats) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([_("indicateur"), _("valeur")])
    writer.writerows(summary_rows(stats))
    writer.writerow([])
    writer.writerow([_("rubrique"), _("libellé"), _("personnes"), _("participations"), _("heures")])
    writer.writerows(breakdown_rows(stats))
    return out.getvalue()


def stats_xlsx(stats: Stats) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = _("Synthèse")[:31]
    sheet.append([_("Indicateur"), _("Valeur")])
    for row in summary_rows(stats):
        sheet.append(list(row))
    sheet.column_dimensions["A"].width = 60
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for _key, title, rows in stats.breakdowns():
        ws = book.create_sheet(title=title[:31])
        ws.append([_("Libellé"), _("Personnes"), _("Participations"), _("Heures")])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for line in rows:
            ws.append([line.label, line.people, line.participations, line.hours])  # None: an empty cell
        ws.column_dimensions["A"].width = 40
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class _Echo:
    def write(self, value: str) -> str:
        return value


ACTIVITY_HEADER = (
    "date",
    "type",
    "duree_minutes",
    "type_lieu",
    "thematiques",
    "materiel",
    "autonomie",
    "structure_de_redirection",
    "titre_atelier",
    "niveau",
    "beneficiaire",
    "anonyme",
    "tranche_age",
    "commune",
    "commune_code_insee",
)


def activity_rows(participations: Any) -> Iterator[str]:
    """La Coop's columns, one line per participation; people as a number (no names in an export)."""
    from mairie.inclusion.vocabularies import COOP_LEVEL

    writer = csv.writer(_Echo(), delimiter=";")
    yield writer.writerow(ACTIVITY_HEADER)
    rows = (
        participations.select_related("accompaniment", "beneficiary")
        .order_by("date", "pk")
        .iterator(chunk_size=2000)
    )
    for p in rows:
        acc = p.accompaniment
        yield writer.writerow(
            (
                p.date.isoformat(),
                p.kind,
                p.duration_minutes,
                acc.place_kind,
                ",".join(acc.coop_themes),
                ",".join(acc.materials),
                p.autonomy,
                acc.redirection,
                acc.title,
                COOP_LEVEL.get(acc.level or 0, ""),
                p.beneficiary_id,
                "oui" if p.beneficiary.is_anonymous else "non",
                p.age_band,
                p.residence_name,
                p.residence_insee,
            )
        )


def activity_participations(commune: Any, start: Any, end: Any) -> Any:
    return Participation.objects.filter(commune=commune, date__gte=start, date__lte=end)
