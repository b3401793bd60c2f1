"""Resetting a member's lost second factor, asked first, in a real browser with axe-core (and without JavaScript:
plain links and a form)."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from mairie.core.models import Role
from tests.browser.conftest import assert_accessible
from tests.factories import make_user


@pytest.mark.parametrize("javascript", [True, False], ids=["with JavaScript", "without JavaScript"])
def test_an_admin_is_asked_before_a_nurses_second_factor_is_reset(site, town, javascript):
    admin = make_user(town, Role.ADMIN)
    nurse = make_user(town, Role.NURSE, first_name="Inès", last_name="Garnier")
    TOTPDevice.objects.create(user=nurse, name="téléphone", confirmed=True)
    page = site.page(user=admin, javascript=javascript)
    page.goto("/gestion/roles/")
    reset = page.get_by_role(
        "link", name="Téléphone perdu ? Réinitialiser la double authentification de Inès"
    )
    reset.click()
    assert (
        page.get_by_role("heading", level=1)
        .inner_text()
        .startswith("Réinitialiser la double authentification de Inès")
    )
    if javascript:
        assert_accessible(page, "the question before resetting a second factor")
    page.get_by_role("link", name="Non, revenir aux rôles").click()
    assert page.url.endswith("/gestion/roles/")
    assert TOTPDevice.objects.filter(user=nurse).exists()  # nothing done
    reset.click()
    page.get_by_role("button", name="Oui, réinitialiser").click()
    assert page.get_by_text("configurera une nouvelle application").count() == 1
    assert not TOTPDevice.objects.filter(user=nurse).exists()
