"""The audit log: append-only, and the commune admin's page to browse, filter and export it."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor, log_for
from mairie.core.models import AuditEntry, Mandate, Role, User
from mairie.core.models.audit import AppendOnlyError
from mairie.core.services.audit import log_action
from tests.factories import make_user

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
URL = "/gestion/journal/"


@pytest.fixture
def admin(commune):
    return make_user(commune, Role.ADMIN, first_name="Hélène", last_name="Marchand")


def _text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(strip_tags(response.content.decode())))


def _log(commune, action: str, **fields) -> AuditEntry:
    with scope(commune=commune):
        return log_action(action, commune=commune, **{"actor": None, **fields})


def _csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


# Append-only ---------------------------------------------------------------------------------------------


def test_entries_cannot_be_changed_nor_deleted(commune, admin):
    entry = _log(commune, "core.test.done", actor=admin)
    with scope(commune=commune):
        entry.action = "core.test.forged"
        with pytest.raises(AppendOnlyError):
            entry.save()
        with pytest.raises(AppendOnlyError):
            entry.delete()
        with pytest.raises(AppendOnlyError):
            AuditEntry.objects.filter(pk=entry.pk).update(action="core.test.forged")
        with pytest.raises(AppendOnlyError):
            AuditEntry.objects.filter(pk=entry.pk).delete()
        assert AuditEntry.objects.get(pk=entry.pk).action == "core.test.done"


# The page ------------------------------------------------------------------------------------------------


def test_the_log_lists_this_communes_entries_newest_first(client_for, commune, other_commune, admin):
    start = datetime(2026, 11, 2, 9, 0, tzinfo=PARIS)
    with time_machine.travel(start, tick=False) as traveller:
        _log(commune, "core.test.first", actor=admin)
        traveller.shift(timedelta(hours=1))
        _log(commune, "core.test.second", actor=admin)
        _log(other_commune, "core.test.elsewhere", actor=None)
    body = _text(client_for(commune, admin).get(URL))
    assert "core.test.second" in body and "core.test.first" in body
    assert body.index("core.test.second") < body.index("core.test.first")
    assert "core.test.elsewhere" not in body


def test_the_log_says_done_by_x_for_y_and_names_erased_people_as_such(client_for, commune, admin):
    agent = make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")
    odette = make_user(commune, first_name="Odette", last_name="Vidal")
    gone = make_user(commune, first_name="Gaston", last_name="Parti")
    with scope(commune=commune):
        mandate = Mandate.objects.create(
            commune=commune,
            agent=agent,
            resident=odette,
            purpose="x",
            consent_method="in_person",
            expires_at=timezone.now() + timedelta(hours=1),
        )
        log_for(Actor(user=agent, commune=commune, subject=odette, mandate=mandate), "core.test.booked")
        log_action("core.role.granted", commune=commune, actor=admin, obj=gone, data={"role": "agent"})
    User.objects.filter(pk=gone.pk).update(erased_at=timezone.now(), first_name="", last_name="")
    body = _text(client_for(commune, admin).get(URL))
    assert "Sophie Lambert pour Odette Vidal" in body
    assert "Attribution d'un rôle" in body and "Personne effacée" in body
    assert "Gaston" not in body


def test_filters_by_action_person_and_dates(client_for, commune, admin):
    agent = make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")
    odette = make_user(commune, first_name="Odette", last_name="Vidal")
    with time_machine.travel(datetime(2026, 11, 2, 23, 30, tzinfo=PARIS), tick=False):
        _log(commune, "core.role.granted", actor=admin, obj=odette)
    with time_machine.travel(datetime(2026, 11, 3, 0, 30, tzinfo=PARIS), tick=False):
        _log(commune, "core.mandate.started", actor=agent, on_behalf_of=odette)
    with time_machine.travel(datetime(2026, 11, 5, 10, 0, tzinfo=PARIS), tick=False):
        _log(commune, "core.commune.updated", actor=admin, obj=commune)
    client = client_for(commune, admin)

    def shown(**filters) -> set[str]:
        body = client.get(URL, filters).content.decode()
        codes = ("core.role.granted", "core.mandate.started", "core.commune.updated")
        return {code for code in codes if f'<code class="small">{code}</code>' in body}

    assert shown(action="core.mandate") == {"core.mandate.started"}
    assert shown(action="core.") == {"core.role.granted", "core.mandate.started", "core.commune.updated"}
    assert shown(person="Odette") == {"core.role.granted", "core.mandate.started"}  # concerned, or acted for
    assert shown(person="lambert") == {"core.mandate.started"}  # the one who acted
    assert shown(person="Marchand") == {"core.role.granted", "core.commune.updated"}
    assert shown(date_from="2026-11-03") == {"core.mandate.started", "core.commune.updated"}
    assert shown(date_to="2026-11-02") == {"core.role.granted"}  # the whole day, in the commune's time
    assert shown(date_from="2026-11-03", date_to="2026-11-04", person="vidal") == {"core.mandate.started"}


def test_a_bad_date_range_is_explained(client_for, commune, admin):
    body = _text(client_for(commune, admin).get(URL, {"date_from": "2026-11-05", "date_to": "2026-11-01"}))
    assert "La date de fin est avant la date de début" in body
    assert "Saisissez une date valide" in _text(client_for(commune, admin).get(URL, {"date_from": "hier"}))


def test_the_log_is_paginated(client_for, commune, admin):
    for n in range(60):
        _log(commune, f"core.test.n{n:02d}", actor=admin)
    client = client_for(commune, admin)
    first = _text(client.get(URL, {"action": "core.test"}))
    assert "60 entrées" in first and "Page 1 sur 2" in first and "core.test.n59" in first
    second = _text(client.get(URL, {"action": "core.test", "page": 2}))
    assert "core.test.n00" in second and "core.test.n59" not in second


def _queries(client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_rows(client_for, commune, admin):
    client = client_for(commune, admin)

    def add(count: int) -> None:
        for _ in range(count):
            agent = make_user(commune, Role.AGENT)
            resident = make_user(commune)
            _log(commune, "core.test.done", actor=agent, on_behalf_of=resident, obj=resident)

    add(5)
    few = _queries(client, URL)
    add(45)
    assert _queries(client, URL) == few


# CSV export ----------------------------------------------------------------------------------------------


def test_csv_export_holds_the_filtered_list_and_is_itself_logged(client_for, commune, admin):
    agent = make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")
    odette = make_user(commune, first_name="=HYPERLINK(1)", last_name="Vidal")
    _log(commune, "core.mandate.started", actor=agent, on_behalf_of=odette, obj=odette)
    _log(commune, "core.commune.updated", actor=admin, obj=commune, data={"changed": ["name"]})
    response = client_for(commune, admin).get(reverse("core:staff_audit_csv"), {"action": "core.mandate"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = _csv(response)
    assert header[:6] == ["Date", "Code", "Action", "Fait par", "Pour", "Concerne"]
    assert [row[1] for row in rows] == ["core.mandate.started"]
    assert rows[0][3] == "Sophie Lambert"
    assert rows[0][4] == "'=HYPERLINK(1) Vidal"  # a spreadsheet will not run it as a formula
    with scope(commune=commune):
        exported = AuditEntry.objects.get(action="core.audit.exported")
    assert exported.actor == admin and exported.data == {"action": "core.mandate"}


def test_csv_export_streams_every_row_in_batches(client_for, commune, admin):
    resident = make_user(commune)
    with scopes_disabled():
        AuditEntry.objects.bulk_create(
            [
                AuditEntry(
                    commune=commune,
                    action="core.test.bulk",
                    actor=admin,
                    object_type="core.user",
                    object_id=str(resident.pk),
                )
                for _ in range(1203)
            ]
        )
    response = client_for(commune, admin).get(reverse("core:staff_audit_csv"), {"action": "core.test.bulk"})
    rows = _csv(response)[1:]
    assert len(rows) == 1203
    assert {row[5] for row in rows} == {resident.display_name}


def test_only_commune_admins_see_the_log(client_for, commune):
    agent = make_user(commune, Role.AGENT)
    client = client_for(commune, agent)
    assert client.get(URL).status_code == 403
    assert client.get(reverse("core:staff_audit_csv")).status_code == 403
