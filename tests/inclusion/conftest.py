from __future__ import annotations

import pytest
from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.core.models import Role
from mairie.inclusion.models import Theme
from tests.factories import make_user


@pytest.fixture
def numeripole(commune):
    """The commune with the Numéripôle switched on, inside its scope."""
    with scopes_disabled():
        commune.enabled_modules = ["inclusion"]
        commune.save(update_fields=["enabled_modules"])
    with scope(commune=commune):
        yield commune


@pytest.fixture
def mediator(numeripole):
    return make_user(numeripole, Role.MEDIATOR, first_name="Karim", last_name="Benali")


@pytest.fixture
def staff(numeripole, mediator):
    return Actor.himself(mediator, numeripole)


@pytest.fixture
def resident(numeripole):
    return make_user(numeripole, first_name="Odette", last_name="Vidal")


@pytest.fixture
def theme(numeripole):
    return Theme.objects.create(
        commune=numeripole, name="Smartphone", coop_theme="prendre_en_main_du_materiel"
    )
