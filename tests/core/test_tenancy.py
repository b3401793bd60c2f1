import pytest
from django_scopes import ScopeError, scope, scopes_disabled

from mairie.core.models import Membership, Role
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_query_on_commune_data_outside_a_scope_raises(commune):
    with pytest.raises(ScopeError):
        list(Membership.objects.all())


def test_scope_shows_only_that_communes_rows(commune, other_commune):
    make_user(commune, Role.AGENT)
    make_user(other_commune)
    with scope(commune=commune):
        assert {m.commune_id for m in Membership.objects.all()} == {commune.pk}
    with scopes_disabled():
        assert Membership.objects.count() == 3


def test_commune_resolved_from_host(client, commune, other_commune):
    response = client.get("/", HTTP_HOST="mont-clair.test")
    assert response.status_code == 200
    assert "Mont-Clair" in response.content.decode()
    assert "Val-de-Brume" not in response.content.decode()


def test_unknown_host_gets_plain_404_naming_no_commune(client, commune, other_commune):
    response = client.get("/", HTTP_HOST="nowhere.test")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Val-de-Brume" not in body and "Mont-Clair" not in body


def test_single_commune_install_needs_no_host_setup(client, commune):
    response = client.get("/", HTTP_HOST="anything.example")
    assert response.status_code == 200
    assert "Val-de-Brume" in response.content.decode()
