"""Confirming a new email address from the link sent to it: the page, its refusal, both without violations."""

from __future__ import annotations

from django_scopes import scopes_disabled

from mairie.core.models import User
from mairie.core.services.privacy import email_change_token
from tests.browser.conftest import assert_accessible
from tests.factories import make_user


def test_the_confirmation_page_and_a_used_link_pass_axe(site, town):
    person = make_user(town, first_name="Lucienne", email="lucienne@example.org")
    token = email_change_token(user=person, new_email="lucienne.hamon@example.org")
    page = site.page()  # opened from the email, signed out, maybe on another device
    page.goto(f"/mon-compte/adresse/{token}/")
    assert page.get_by_text(
        "votre compte utilise maintenant l'adresse lucienne.hamon@example.org"
    ).is_visible()
    assert_accessible(page, "email confirmed")
    with scopes_disabled():
        assert User.objects.get(pk=person.pk).email == "lucienne.hamon@example.org"
    page.goto(f"/mon-compte/adresse/{token}/")
    assert page.get_by_role("alert").is_visible()
    assert_accessible(page, "email link already used")
