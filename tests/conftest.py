from __future__ import annotations

import pytest
from django.core.cache import cache
from django_scopes import scope, scopes_disabled

from tests.factories import make_commune

# Fixtures that start or use the session's Chromium (tests/browser/conftest.py).
BROWSER_FIXTURES = frozenset({"browser", "site"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives the browser is marked ``browser`` wherever it lives, so that ``make test`` can run
    the browser tests in their own pytest process: Playwright's sync API keeps an event loop running in the
    worker, which breaks the asyncio tests (Channels consumers) that pytest-asyncio runs afterwards."""
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def commune(db):
    with scopes_disabled():
        return make_commune("Val-de-Brume", hosts=("val-de-brume.test",))


@pytest.fixture
def other_commune(db):
    with scopes_disabled():
        return make_commune("Mont-Clair", hosts=("mont-clair.test",))


@pytest.fixture
def in_commune(commune):
    """Runs the test body inside the commune's scope, as a request would."""
    with scope(commune=commune):
        yield commune


@pytest.fixture
def client_for(client):
    """``client_for(commune)`` gives the test client pointed at the commune's host name."""

    def _client(commune, user=None):
        host = commune.hosts.first().host
        client.defaults["HTTP_HOST"] = host
        if user is not None:
            client.force_login(user, backend="mairie.core.auth_backends.LoginBackend")
        return client

    return _client
