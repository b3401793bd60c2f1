"""The staff back office: home, residents (search, pages), accounts made at the counter, roles."""

from __future__ import annotations

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from mairie.core.auth_backends import LoginBackend
from mairie.core.models import AuditEntry, Membership, Role, User
from mairie.core.services.counter import WORDS, temporary_password
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(commune):
    return make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")


@pytest.fixture
def admin(commune):
    return make_user(commune, Role.ADMIN, first_name="Hélène", last_name="Marchand")


def _text(response) -> str:
    """The page as a person reads it: entities decoded, white space folded."""
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


# Staff home ----------------------------------------------------------------------------------------------


def test_staff_home_lists_what_an_agent_may_do_and_nothing_more(client_for, commune, agent):
    body = _text(client_for(commune, agent).get(reverse("core:staff_home")))
    assert reverse("core:staff_residents") in body
    assert reverse("core:outbox") in body
    assert reverse("core:staff_roles") not in body
    assert reverse("core:staff_audit") not in body
    assert reverse("core:staff_commune") not in body


def test_staff_home_for_an_admin_shows_every_area_and_pending_erasures(client_for, commune, admin):
    from mairie.core.models import ErasureRequest

    leaving = make_user(commune)
    with scopes_disabled():
        ErasureRequest.objects.create(commune=commune, user=leaving)
    body = _text(client_for(commune, admin).get(reverse("core:staff_home")))
    for name in ("core:staff_residents", "core:staff_roles", "core:staff_commune", "core:staff_audit"):
        assert reverse(name) in body
    assert "1 demande d'effacement de compte attend votre réponse" in body
    assert reverse("core:staff_erasures") in body


def test_staff_home_shows_the_mandates_i_hold(client_for, commune, agent):
    from mairie.core.services.mandates import Duration, mandate_expiry, mandate_start

    resident = make_user(commune, first_name="Odette", last_name="Vidal")
    with scope(commune=commune):
        mandate_start(
            agent=agent,
            resident=resident,
            commune=commune,
            purpose="Inscription à l'atelier tablette",
            consent_method="in_person",
            expires_at=mandate_expiry(Duration.ONE_MONTH),
        )
    body = _text(client_for(commune, agent).get(reverse("core:staff_home")))
    assert "Odette Vidal" in body and "Inscription à l'atelier tablette" in body


def test_modules_add_their_own_areas_to_the_staff_home(client_for, commune, agent, monkeypatch):
    from mairie.core import backoffice

    area = backoffice.StaffArea("core.act_on_behalf", "core:home", "Ateliers du Numéripôle", "Les sessions")
    monkeypatch.setattr(backoffice, "STAFF_AREAS", list(backoffice.STAFF_AREAS))
    backoffice.register_staff_area(area)
    assert "Ateliers du Numéripôle" in _text(client_for(commune, agent).get(reverse("core:staff_home")))
    admins_only = backoffice.StaffArea("core.manage_roles", "core:home", "Réservé", "x")
    backoffice.register_staff_area(admins_only)
    assert "Réservé" not in _text(client_for(commune, agent).get(reverse("core:staff_home")))


def test_a_resident_cannot_open_the_back_office(client_for, commune):
    resident = make_user(commune)
    assert client_for(commune, resident).get(reverse("core:staff_home")).status_code == 403


# Residents -----------------------------------------------------------------------------------------------


def test_search_finds_residents_by_name_identifier_email_and_phone(client_for, commune, agent):
    odette = make_user(commune, first_name="Odette", last_name="Vidal", email="odette@example.org")
    jeanne = make_user(commune, first_name="Jeanne", last_name="Moreau", phone="+33622334455", email="")
    client = client_for(commune, agent)
    url = reverse("core:staff_residents")

    def found(query: str) -> set[str]:
        body = client.get(url, {"q": query}).content.decode()
        return {name for name in ("Odette Vidal", "Jeanne Moreau", "Sophie Lambert") if name in body}

    assert found("vidal") == {"Odette Vidal"}
    assert found("odette vid") == {"Odette Vidal"}
    assert found(odette.username) == {"Odette Vidal"}
    assert found("odette@example") == {"Odette Vidal"}
    assert found("06 22 33 44 55") == {"Jeanne Moreau"}
    assert found("0622") == {"Jeanne Moreau"}
    assert found(jeanne.username.upper()) == {"Jeanne Moreau"}
    assert found("personne-inconnue") == set()
    assert "Personne ne correspond à cette recherche" in client.get(url, {"q": "zzz"}).content.decode()


def test_resident_list_filters_by_role_and_never_shows_another_commune(
    client_for, commune, other_commune, agent
):
    make_user(commune, first_name="Odette", last_name="Vidal")
    make_user(other_commune, first_name="Odile", last_name="Montclair")
    client = client_for(commune, agent)
    body = client.get(reverse("core:staff_residents")).content.decode()
    assert "Odette Vidal" in body and "Sophie Lambert" in body
    assert "Montclair" not in body
    agents_only = client.get(reverse("core:staff_residents"), {"role": Role.AGENT}).content.decode()
    assert "Sophie Lambert" in agents_only and "Odette Vidal" not in agents_only


def test_resident_list_is_paginated(client_for, commune, agent):
    for n in range(55):
        make_user(commune, first_name="Habitant", last_name=f"Numero{n:02d}")
    client = client_for(commune, agent)
    first = client.get(reverse("core:staff_residents")).content.decode()
    assert "56 personnes" in first and "Page 1 sur 2" in first
    second = client.get(reverse("core:staff_residents"), {"page": 2}).content.decode()
    assert "Page 2 sur 2" in second and "Numero54" in second and "Numero54" not in first


def _queries_for(client, url: str) -> int:
    client.get(url)  # the first request also fills caches (the commune of the host name)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("page", ["core:staff_residents", "core:staff_roles"])
def test_resident_and_role_lists_cost_the_same_queries_for_5_or_50_people(client_for, commune, admin, page):
    client = client_for(commune, admin)
    for _ in range(5):
        make_user(commune, Role.MEDIATOR)
    few = _queries_for(client, reverse(page))
    for _ in range(45):
        make_user(commune, Role.MEDIATOR)
    many = _queries_for(client, reverse(page))
    assert many == few


def test_resident_page_shows_the_person_and_their_history(client_for, commune, agent):
    odette = make_user(commune, first_name="Odette", last_name="Vidal", email="", phone="+33611223399")
    body = _text(client_for(commune, agent).get(reverse("core:staff_resident", args=[odette.pk])))
    assert "Odette Vidal" in body and odette.username in body and "06 11 22 33 99" in body
    assert "Création du compte" in body
    assert "Agir pour cette personne" in body


def test_resident_page_of_someone_from_another_commune_is_a_404(client_for, commune, other_commune, agent):
    elsewhere = make_user(other_commune)
    client = client_for(commune, agent)
    assert client.get(reverse("core:staff_resident", args=[elsewhere.pk])).status_code == 404
    assert client.get(reverse("core:staff_resident", args=[999999])).status_code == 404
    assert client.get(reverse("core:staff_act_start", args=[elsewhere.pk])).status_code == 404


# Accounts made at the counter ----------------------------------------------------------------------------


def _create_form(client) -> dict[str, str]:
    page = client.get(reverse("core:staff_resident_create")).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    return {
        "token": token,
        "first_name": "Marcel",
        "last_name": "Dubois",
        "email": "",
        "phone": "",
        "password": "",
    }


def test_counter_account_without_email_nor_phone_gets_a_printable_sheet(client_for, commune, agent):
    with scopes_disabled():
        commune.phone = "02 99 00 00 00"
        commune.save()
    client = client_for(commune, agent)
    response = client.post(reverse("core:staff_resident_create"), _create_form(client))
    assert response.status_code == 200
    body = _text(response)
    assert "Fiche de connexion" in body and "Val-de-Brume" in body and "02 99 00 00 00" in body
    assert "no-store" in response.headers["Cache-Control"]
    marcel = User.objects.get(first_name="Marcel", last_name="Dubois")
    assert marcel.email is None and marcel.phone is None
    assert marcel.username in body
    password = re.search(r'<dd class="sheet-secret">([^<]+)</dd>\s*</dl>', response.content.decode()).group(1)
    assert password not in marcel.password  # only the hash is kept
    assert LoginBackend().authenticate(None, username=marcel.username, password=password) == marcel
    with scope(commune=commune):
        assert Membership.objects.filter(user=marcel, role=Role.RESIDENT).exists()
        entry = AuditEntry.objects.get(action="core.account.created", object_id=str(marcel.pk))
    assert entry.actor == agent and entry.data["by_staff"] is True


def _sheet_password(response) -> str:
    return re.search(r'<dd class="sheet-secret">([^<]+)</dd>\s*</dl>', response.content.decode()).group(1)


def test_an_account_made_at_the_counter_shows_in_the_persons_own_history(client_for, commune, agent):
    client = client_for(commune, agent)
    client.post(reverse("core:staff_resident_create"), _create_form(client))
    marcel = User.objects.get(first_name="Marcel")
    client.post(reverse("core:staff_resident_password", args=[marcel.pk]))
    client.logout()
    marcel.refresh_from_db()  # a new password: the session is tied to it
    page = client_for(commune, marcel).get(reverse("core:account_history")).content.decode()
    body = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert "Création du compte Fait par Sophie Lambert (agent de mairie) pour vous" in body
    assert "Nouveau mot de passe donné au guichet de la mairie Fait par Sophie Lambert" in body


def test_a_temporary_password_from_the_counter_is_replaced_at_first_sign_in(client_for, commune, agent):
    client = client_for(commune, agent)
    sheet = client.post(reverse("core:staff_resident_create"), _create_form(client))
    assert "choisir votre propre mot de passe" in _text(sheet)
    temporary = _sheet_password(sheet)
    marcel = User.objects.get(first_name="Marcel")
    client.logout()

    signed_in = client.post(reverse("core:login"), {"login": marcel.username, "password": temporary})
    assert signed_in.status_code == 302 and signed_in.url == reverse("core:password_change")
    page = _text(client.get(signed_in.url))
    assert "Choisir mon mot de passe" in page and "Mot de passe écrit sur votre fiche" in page
    too_short = client.post(
        reverse("core:password_change"),
        {"old_password": temporary, "new_password1": "court", "new_password2": "court"},
    )
    assert too_short.status_code == 200
    marcel.refresh_from_db()
    assert marcel.must_change_password and marcel.check_password(temporary)

    mine = "ma maison au bord de l'eau"
    changed = client.post(
        reverse("core:password_change"),
        {"old_password": temporary, "new_password1": mine, "new_password2": mine},
    )
    assert changed.status_code == 302 and changed.url == reverse("core:account")
    marcel.refresh_from_db()
    assert not marcel.must_change_password and marcel.check_password(mine)
    client.logout()
    again = client.post(reverse("core:login"), {"login": marcel.username, "password": mine})
    assert again.status_code == 302 and again.url == reverse("core:home")


def test_a_new_sheet_asks_again_for_a_password_of_ones_own_and_keeps_where_one_was_going(
    client_for, commune, agent
):
    odette = make_user(commune, first_name="Odette", password="ancien mot de passe")
    client = client_for(commune, agent)
    temporary = _sheet_password(client.post(reverse("core:staff_resident_password", args=[odette.pk])))
    client.logout()
    wanted = reverse("core:account_history")
    signed_in = client.post(
        reverse("core:login") + f"?next={wanted}", {"login": odette.username, "password": temporary}
    )
    assert signed_in.url == reverse("core:password_change") + "?next=%2Fmon-compte%2Fhistorique%2F"
    mine = "une phrase bien à moi"
    changed = client.post(
        signed_in.url,
        {"old_password": temporary, "new_password1": mine, "new_password2": mine, "next": wanted},
    )
    assert changed.url == wanted


def test_a_password_chosen_by_the_person_at_the_counter_is_kept(client_for, commune, agent):
    client = client_for(commune, agent)
    data = {**_create_form(client), "password": "un mot de passe solide"}
    client.post(reverse("core:staff_resident_create"), data)
    marcel = User.objects.get(first_name="Marcel")
    assert not marcel.must_change_password
    client.logout()
    signed_in = client.post(
        reverse("core:login"), {"login": marcel.username, "password": "un mot de passe solide"}
    )
    assert signed_in.url == reverse("core:home")


def test_sending_the_form_twice_makes_one_account(client_for, commune, agent):
    client = client_for(commune, agent)
    data = _create_form(client)
    client.post(reverse("core:staff_resident_create"), data)
    again = client.post(reverse("core:staff_resident_create"), data)
    marcel = User.objects.get(first_name="Marcel")
    assert again.status_code == 302 and again.url == reverse("core:staff_resident", args=[marcel.pk])


def test_counter_account_with_a_chosen_password_goes_to_the_person(client_for, commune, agent):
    client = client_for(commune, agent)
    data = {**_create_form(client), "phone": "06 12 34 56 78", "password": "un mot de passe solide"}
    response = client.post(reverse("core:staff_resident_create"), data)
    marcel = User.objects.get(first_name="Marcel")
    assert response.status_code == 302 and response.url == reverse("core:staff_resident", args=[marcel.pk])
    assert marcel.phone == "+33612345678" and marcel.check_password("un mot de passe solide")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "taken@example.org", "Un compte existe déjà avec cette adresse e-mail"),
        ("phone", "06 99 88 77 66", "Un compte existe déjà avec ce numéro"),
        ("phone", "12 34", "Ce numéro n'est pas reconnu"),
        ("email", "pas-une-adresse", "Saisissez une adresse de courriel valide"),
        ("first_name", "", "Ce champ est obligatoire"),
        ("password", "court", "Ce mot de passe est trop court"),
    ],
)
def test_bad_counter_input_says_why_and_saves_nothing(client_for, commune, agent, field, value, message):
    make_user(commune, email="taken@example.org", phone="+33699887766")
    client = client_for(commune, agent)
    before = User.objects.count()
    response = client.post(reverse("core:staff_resident_create"), {**_create_form(client), field: value})
    body = _text(response)
    assert response.status_code == 200
    assert message in body
    assert 'aria-invalid="true"' in body and "Rien n'a été enregistré" in body
    assert User.objects.count() == before


def test_temporary_passwords_are_readable_words_and_differ():
    passwords = {temporary_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        *words, number = password.split("-")
        assert len(words) == 3 and all(word in WORDS for word in words) and 10 <= int(number) <= 99


def test_a_new_sheet_replaces_a_forgotten_password(client_for, commune, agent):
    odette = make_user(commune, first_name="Odette", password="ancien mot de passe")
    response = client_for(commune, agent).post(reverse("core:staff_resident_password", args=[odette.pk]))
    assert "Fiche de connexion" in response.content.decode()
    odette.refresh_from_db()
    assert not odette.check_password("ancien mot de passe")
    with scope(commune=commune):
        assert AuditEntry.objects.filter(
            action="core.account.password_reset_at_counter", actor=agent
        ).exists()


def test_the_counter_cannot_reset_a_staff_members_password(client_for, commune, other_commune, agent):
    mayor_elsewhere = make_user(commune, password="son mot de passe")
    Membership.objects.create(commune=other_commune, user=mayor_elsewhere, role=Role.ADMIN)
    client = client_for(commune, agent)
    page = client.get(reverse("core:staff_resident", args=[mayor_elsewhere.pk])).content.decode()
    assert reverse("core:staff_resident_password", args=[mayor_elsewhere.pk]) not in page
    client.post(reverse("core:staff_resident_password", args=[mayor_elsewhere.pk]))
    mayor_elsewhere.refresh_from_db()
    assert mayor_elsewhere.check_password("son mot de passe")


# Roles ---------------------------------------------------------------------------------------------------


def test_admin_grants_a_role_to_a_resident_of_the_commune(client_for, commune, admin):
    odette = make_user(commune, first_name="Odette", last_name="Vidal", email="odette@example.org")
    client = client_for(commune, admin)
    response = client.post(
        reverse("core:staff_roles"), {"person": "odette@example.org", "role": Role.MEDIATOR}
    )
    assert response.status_code == 302
    with scope(commune=commune):
        assert Membership.objects.filter(user=odette, role=Role.MEDIATOR).exists()
        assert AuditEntry.objects.filter(action="core.role.granted", actor=admin).exists()
    body = _text(client.get(reverse("core:staff_roles")))
    assert "Odette Vidal" in body and "médiateur·rice numérique" in body


def test_granting_a_role_to_someone_of_another_commune_is_refused(client_for, commune, other_commune, admin):
    make_user(other_commune, email="ailleurs@example.org")
    response = client_for(commune, admin).post(
        reverse("core:staff_roles"), {"person": "ailleurs@example.org", "role": Role.AGENT}
    )
    assert response.status_code == 200
    assert "Aucune personne de la commune ne correspond" in response.content.decode()
    with scopes_disabled():
        assert not Membership.objects.filter(role=Role.AGENT).exists()


def test_admin_revokes_a_role(client_for, commune, admin):
    helper = make_user(commune, Role.MODERATOR)
    with scope(commune=commune):
        membership = Membership.objects.get(user=helper, role=Role.MODERATOR)
    client_for(commune, admin).post(reverse("core:staff_role_revoke", args=[membership.pk]))
    with scope(commune=commune):
        assert not Membership.objects.filter(pk=membership.pk).exists()
        assert Membership.objects.filter(user=helper, role=Role.RESIDENT).exists()
        assert AuditEntry.objects.filter(action="core.role.revoked", actor=admin).exists()


def test_the_last_admin_of_a_commune_cannot_be_removed(client_for, commune, admin):
    with scope(commune=commune):
        membership = Membership.objects.get(user=admin, role=Role.ADMIN)
    client = client_for(commune, admin)
    response = client.post(reverse("core:staff_role_revoke", args=[membership.pk]), follow=True)
    assert "seule personne qui administre la commune" in response.content.decode()
    with scope(commune=commune):
        assert Membership.objects.filter(pk=membership.pk).exists()
    second = make_user(commune, Role.ADMIN)
    client.post(reverse("core:staff_role_revoke", args=[membership.pk]))
    with scope(commune=commune):
        assert not Membership.objects.filter(pk=membership.pk).exists()
        assert Membership.objects.filter(user=second, role=Role.ADMIN).exists()


def test_revoking_a_role_of_another_commune_is_a_404(client_for, commune, other_commune, admin):
    far_admin = make_user(other_commune, Role.AGENT)
    with scopes_disabled():
        membership = Membership.objects.get(user=far_admin, role=Role.AGENT)
    response = client_for(commune, admin).post(reverse("core:staff_role_revoke", args=[membership.pk]))
    assert response.status_code == 404
    with scopes_disabled():
        assert Membership.objects.filter(pk=membership.pk).exists()


# A lost second factor -------------------------------------------------------------------------------------------


def test_an_admin_resets_a_nurses_lost_second_factor_and_she_is_told(
    client_for, commune, other_commune, admin
):
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from mairie.core.models import Notification

    nurse = make_user(commune, Role.NURSE, first_name="Inès", phone="+33611223344")
    TOTPDevice.objects.create(user=nurse, name="téléphone", confirmed=True)
    StaticDevice.objects.create(user=nurse, name="secours")
    client = client_for(commune, admin)
    url = reverse("core:staff_two_factor_reset", args=[nurse.pk])
    assert f'href="{url}"' in _text(client.get(reverse("core:staff_roles")))
    # Asked first: whoever signs in next with her password sets up the new one.
    asked = _text(client.get(url))
    assert "Réinitialiser la double authentification de Inès" in asked and "Oui, réinitialiser" in asked
    assert TOTPDevice.objects.filter(user=nurse).exists()
    response = client.post(url, follow=True)
    assert "configurera une nouvelle application" in _text(response)
    assert (
        not TOTPDevice.objects.filter(user=nurse).exists()
        and not StaticDevice.objects.filter(user=nurse).exists()
    )
    with scope(commune=commune):
        assert AuditEntry.objects.filter(action="core.auth.two_factor_reset", actor=admin).count() == 1
        told = set(
            Notification.objects.filter(recipient=nurse, template="core/two_factor_reset").values_list(
                "channel", flat=True
            )
        )
    assert {"in_app", "sms"} <= told
    # Nothing to reset any more: no button for her.
    assert f'href="{url}"' not in _text(client.get(reverse("core:staff_roles")))


def test_a_second_factor_used_for_another_commune_is_not_the_communes_to_reset(
    client_for, commune, other_commune, admin
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    operator = make_user(commune, Role.OPERATOR)
    Membership.objects.create(commune=other_commune, user=operator, role=Role.OPERATOR)
    TOTPDevice.objects.create(user=operator, name="téléphone", confirmed=True)
    client = client_for(commune, admin)
    response = client.post(reverse("core:staff_two_factor_reset", args=[operator.pk]), follow=True)
    assert "demandez à l'exploitant de la plateforme" in _text(response)
    assert TOTPDevice.objects.filter(user=operator).exists()
    # A resident without a role here, someone of another commune, or an agent: not theirs to do.
    stranger = make_user(other_commune, Role.NURSE)
    TOTPDevice.objects.create(user=stranger, name="téléphone", confirmed=True)
    assert client.post(reverse("core:staff_two_factor_reset", args=[stranger.pk])).status_code == 404
    agent = make_user(commune, Role.AGENT)
    nurse = make_user(commune, Role.NURSE)
    TOTPDevice.objects.create(user=nurse, name="téléphone", confirmed=True)
    refused = client_for(commune, agent).post(reverse("core:staff_two_factor_reset", args=[nurse.pk]))
    assert refused.status_code == 403
    assert TOTPDevice.objects.filter(user__in=[stranger, nurse]).count() == 2
