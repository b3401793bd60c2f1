"""Individual accompaniments recorded by hand, in La Coop's vocabulary."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mairie.inclusion.models import Accompaniment, Beneficiary, Participation
from tests.factories import make_user
from tests.inclusion.helpers import text

pytestmark = pytest.mark.django_db
URL = "/numeripole/gestion/accompagnements/nouveau/"


def _data(theme, **extra):
    data = {
        "day": (timezone.localdate() - timedelta(days=1)).isoformat(),
        "duration_minutes": "45",
        "place_kind": "domicile",
        "theme": theme.pk,
        "materials": ["telephone"],
        "autonomy": "partiellement_autonome",
        "redirection": "aide_sociale",
        "age_band": "soixante_soixante_neuf",
        "residence_name": "Montfort-le-Vieux",
        "residence_insee": "99004",
    }
    data.update(extra)
    return data


def test_help_for_a_known_resident(client_for, numeripole, mediator, theme, resident):
    client = client_for(numeripole, mediator)
    assert "Odette Vidal" in text(client.get(URL, {"q": "Odette"}))
    chosen = text(client.get(URL, {"person": resident.pk}))
    assert "Personne : <strong>Odette Vidal</strong>" in chosen and "personne anonyme" not in chosen
    response = client.post(URL, {**_data(theme), "person": resident.pk})
    assert response.status_code == 302
    record = Accompaniment.objects.get()
    assert (
        record.kind == "individuel"
        and record.place_kind == "domicile"
        and record.redirection == "aide_sociale"
    )
    assert record.completed_at is not None and record.mediator == mediator
    participation = Participation.objects.get()
    assert participation.beneficiary.user == resident and participation.autonomy == "partiellement_autonome"
    # The resident's own commune of residence is kept, not the one typed for anonymous people.
    assert participation.residence_insee == numeripole.insee_code


def test_help_for_someone_anonymous(client_for, numeripole, mediator, theme):
    client = client_for(numeripole, mediator)
    client.post(URL, _data(theme))
    person = Beneficiary.objects.get()
    assert person.is_anonymous and person.user is None and person.residence_insee == "99004"
    assert Participation.objects.get().age_band == "soixante_soixante_neuf"


def test_a_future_day_or_a_zero_duration_is_refused(client_for, numeripole, mediator, theme):
    client = client_for(numeripole, mediator)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = client.post(URL, _data(theme, day=tomorrow, duration_minutes="0"))
    body = text(response)
    assert response.status_code == 200
    assert "La date est dans le futur" in body and 'id="id_duration_minutes-error"' in body
    assert not Accompaniment.objects.exists() and not Beneficiary.objects.exists()


def test_a_person_of_another_commune_is_refused(client_for, numeripole, mediator, theme, other_commune):
    stranger = make_user(other_commune)
    client = client_for(numeripole, mediator)
    response = client.post(URL, {**_data(theme), "person": stranger.pk})
    assert response.status_code == 400 and "pas dans la liste des habitants" in text(response)
    assert not Accompaniment.objects.exists()
