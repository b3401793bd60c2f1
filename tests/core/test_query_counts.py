"""The number of SQL queries of a page does not grow with the amount of data it shows.

Each test loads a page with N rows of what it lists, then with 10 N (still on one page of the list, so every
row is rendered), and expects the same number of queries: a query per row (an N+1) would show up at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from mairie.core.models import ErasureRequest, Mandate, Notification, OutboxMessage, Role
from mairie.core.services.audit import log_action
from tests.factories import make_commune, make_user

pytestmark = pytest.mark.django_db

N = 2
ROLES = [Role.AGENT, Role.MEDIATOR, Role.MODERATOR, Role.FABLAB_MANAGER, Role.RELATIVE]


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


def assert_constant(client, url: str, add_rows: Callable[[int], None]) -> None:
    """Loads ``url`` with N rows, then with 10 N rows; the query counts must match."""
    add_rows(N)
    client.get(url)  # warm the commune cache, as every request after the first finds it
    with_n = count_queries(client, url)
    add_rows(9 * N)
    with_10n = count_queries(client, url)
    assert with_10n == with_n, f"{url}: {with_n} queries with {N} rows, {with_10n} with {10 * N} rows"


# Public pages: more communes, people and history must not cost anything --------------------------------


def _grow_the_platform(commune):
    def add(count: int) -> None:
        with scopes_disabled():
            for i in range(count):
                other = make_commune(hosts=(f"other-{timezone.now().timestamp()}-{i}.test",))
                person = make_user(commune, ROLES[i % len(ROLES)])
                log_action("core.test.row", commune=commune, actor=person, obj=other)

    return add


@pytest.mark.parametrize("url_name", ["core:home", "core:login"])
def test_public_pages_cost_the_same_whatever_the_data(client_for, commune, url_name):
    assert_constant(client_for(commune), reverse(url_name), _grow_the_platform(commune))


def test_home_page_for_a_signed_in_resident_costs_the_same_whatever_the_data(client_for, commune):
    resident = make_user(commune)
    assert_constant(client_for(commune, resident), reverse("core:home"), _grow_the_platform(commune))


# Staff lists ---------------------------------------------------------------------------------------------


def test_residents_list(client_for, commune):
    agent = make_user(commune, Role.AGENT)

    def add(count: int) -> None:
        for i in range(count):
            make_user(commune, *ROLES[: i % 3])

    assert_constant(client_for(commune, agent), reverse("core:staff_residents"), add)


def test_audit_log(client_for, commune):
    admin = make_user(commune, Role.ADMIN)

    def add(count: int) -> None:
        with scopes_disabled():
            for i in range(count):
                actor = make_user(commune, ROLES[i % len(ROLES)])
                resident = make_user(commune)
                log_action("core.test.row", commune=commune, actor=actor, obj=resident, on_behalf_of=resident)

    assert_constant(client_for(commune, admin), reverse("core:staff_audit"), add)


def test_outbox(client_for, commune):
    agent = make_user(commune, Role.AGENT)

    def add(count: int) -> None:
        OutboxMessage.objects.bulk_create(
            OutboxMessage(
                commune=commune,
                channel=OutboxMessage.Channel.SMS if i % 2 else OutboxMessage.Channel.EMAIL,
                to=f"+3361234{i:04d}" if i % 2 else f"person{i}@example.org",
                subject="Rappel",
                body="Votre atelier a lieu demain à 10 h.",
            )
            for i in range(count)
        )

    assert_constant(client_for(commune, agent), reverse("core:outbox"), add)


def test_roles_page(client_for, commune):
    admin = make_user(commune, Role.ADMIN)

    def add(count: int) -> None:
        for i in range(count):
            make_user(commune, ROLES[i % len(ROLES)])

    assert_constant(client_for(commune, admin), reverse("core:staff_roles"), add)


def test_erasure_requests(client_for, commune):
    admin = make_user(commune, Role.ADMIN)

    def add(count: int) -> None:
        with scopes_disabled():
            for i in range(count):
                ErasureRequest.objects.create(
                    commune=commune,
                    user=make_user(commune),
                    status=ErasureRequest.Status.PENDING if i % 2 else ErasureRequest.Status.REFUSED,
                    handled_by=None if i % 2 else admin,
                    handled_at=None if i % 2 else timezone.now(),
                )

    assert_constant(client_for(commune, admin), reverse("core:staff_erasures"), add)


# A resident's own lists ----------------------------------------------------------------------------------


def test_my_messages(client_for, commune):
    resident = make_user(commune)

    def add(count: int) -> None:
        with scopes_disabled():
            Notification.objects.bulk_create(
                Notification(
                    commune=commune,
                    recipient=resident,
                    channel=Notification.Channel.IN_APP,
                    template="test",
                    subject=f"Message {i}",
                    body="Votre inscription est confirmée.",
                    status=Notification.Status.SENT,
                )
                for i in range(count)
            )

    assert_constant(client_for(commune, resident), reverse("core:my_notifications"), add)


def test_my_history(client_for, commune):
    resident = make_user(commune)

    def add(count: int) -> None:
        with scopes_disabled():
            for i in range(count):
                agent = make_user(commune, ROLES[i % 2])
                log_action("core.test.row", commune=commune, actor=agent, obj=resident, on_behalf_of=resident)

    assert_constant(client_for(commune, resident), reverse("core:account_history"), add)


def test_my_mandates(client_for, commune):
    resident = make_user(commune)

    def add(count: int) -> None:
        now = timezone.now()
        with scopes_disabled():
            for i in range(count):
                Mandate.objects.create(
                    commune=commune,
                    agent=make_user(commune, Role.AGENT),
                    resident=resident,
                    purpose="Inscription à un atelier",
                    consent_method=Mandate.ConsentMethod.IN_PERSON,
                    expires_at=now + timedelta(hours=1 if i % 2 else -1),
                )

    assert_constant(client_for(commune, resident), reverse("core:account_mandates"), add)
