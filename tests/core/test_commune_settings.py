"""The commune's settings page: identity, logo, accent colour, contact details, modules."""

from __future__ import annotations

import html
import io
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import strip_tags
from django_scopes import scope, scopes_disabled
from PIL import Image

from mairie.core.models import AuditEntry, Commune, Role
from mairie.core.modules import MODULES, Module
from mairie.core.services.communes import commune_update
from tests.factories import make_user

pytestmark = pytest.mark.django_db
URL = "/gestion/commune/"


@pytest.fixture
def admin(commune):
    return make_user(commune, Role.ADMIN)


def _text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(strip_tags(response.content.decode())))


def _form(commune: Commune, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": commune.name,
        "accent_colour": commune.accent_colour,
        "address": commune.address,
        "phone": commune.phone,
        "email": commune.email,
        "website": commune.website,
        "opening_hours": commune.opening_hours,
        "welcome_text": commune.welcome_text,
    }
    data.update(changes)
    return data


def _image(kind: str, size: tuple[int, int] = (64, 64), name: str | None = None) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (29, 79, 145)).save(buffer, format=kind)
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}[kind]
    return SimpleUploadedFile(name or f"logo.{kind.lower()}", buffer.getvalue(), content_type=content_type)


def _fresh(commune: Commune) -> Commune:
    with scopes_disabled():
        return Commune.objects.get(pk=commune.pk)


def test_admin_changes_the_communes_details_and_every_page_shows_them(
    client_for, commune, admin, django_capture_on_commit_callbacks
):
    client = client_for(commune, admin)
    assert "Val-de-Brume" in _text(client.get("/"))  # the commune is now cached for its host name
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            URL,
            _form(
                commune,
                name="Val-de-Brume-sur-Mer",
                phone="02 99 12 34 56",
                opening_hours="Lundi : 9 h – 12 h",
                welcome_text="Bienvenue à tous.",
            ),
        )
    assert response.status_code == 302
    home = _text(client.get("/"))
    assert "Val-de-Brume-sur-Mer" in home and "02 99 12 34 56" in home and "Bienvenue à tous." in home
    with scope(commune=commune):
        entry = AuditEntry.objects.get(action="core.commune.updated")
    assert entry.actor == admin
    assert entry.data == {"changed": ["name", "opening_hours", "phone", "welcome_text"]}


def test_saving_without_change_writes_nothing(client_for, commune, admin):
    client_for(commune, admin).post(URL, _form(commune))
    with scope(commune=commune):
        assert not AuditEntry.objects.filter(action="core.commune.updated").exists()


def test_a_too_light_accent_colour_is_refused_with_its_contrast_ratio(client_for, commune, admin):
    response = client_for(commune, admin).post(URL, _form(commune, accent_colour="#ffff00", name="Autre nom"))
    body = _text(response)
    assert response.status_code == 200
    assert "pas assez contrastée" in body and "1.1:1 au lieu de 4.5:1" in body
    assert "Rien n'a été enregistré" in body
    fresh = _fresh(commune)
    assert (fresh.accent_colour, fresh.name) == ("#1d4f91", "Val-de-Brume")


def test_a_dark_enough_accent_colour_is_accepted_and_served(client_for, commune, admin):
    client = client_for(commune, admin)
    client.post(URL, _form(commune, accent_colour="#ffff00"))
    response = client.post(URL, _form(commune, accent_colour="#7A2E0E"))
    assert response.status_code == 302
    assert _fresh(commune).accent_colour == "#7a2e0e"
    client.post(URL, _form(commune, accent_colour="#1d4f91"))
    assert _fresh(commune).accent_colour == "#1d4f91"


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_a_png_or_jpeg_logo_is_accepted_and_shown_on_every_page(
    client_for, commune, admin, kind, django_capture_on_commit_callbacks
):
    client = client_for(commune, admin)
    assert "logo-commune" not in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {**_form(commune), "logo": _image(kind)})
    assert response.status_code == 302
    logo = _fresh(commune).logo
    assert logo.name.endswith(".png" if kind == "PNG" else ".jpg")
    with logo.open("rb") as stored, Image.open(stored) as image:
        assert image.format == kind
    shown = re.search(r'<img src="(/logo-commune\?v=[^"]+)"', client.get("/").content.decode()).group(1)
    served = client.get(shown)
    assert served.status_code == 200 and served["Content-Type"] == f"image/{kind.lower()}"
    with Image.open(io.BytesIO(b"".join(served.streaming_content))) as image:
        assert image.format == kind


def test_no_logo_is_a_404_and_no_image_on_pages(client, commune):
    assert client.get("/logo-commune", HTTP_HOST="val-de-brume.test").status_code == 404
    assert "logo-commune" not in client.get("/", HTTP_HOST="val-de-brume.test").content.decode()


def test_the_logo_can_be_removed(client_for, commune, admin):
    client = client_for(commune, admin)
    client.post(URL, {**_form(commune), "logo": _image("PNG")})
    assert _fresh(commune).logo
    client.post(URL, {**_form(commune), "logo-clear": "on"})
    assert not _fresh(commune).logo


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (lambda: _image("GIF"), "Le logo doit être une image PNG ou JPEG (ce fichier est au format GIF)"),
        (
            lambda: SimpleUploadedFile(
                "logo.svg",
                b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                content_type="image/svg+xml",
            ),
            "Ce fichier n'est pas une image PNG ou JPEG lisible",
        ),
        (
            lambda: SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n not really", content_type="image/png"),
            "Ce fichier n'est pas une image PNG ou JPEG lisible",
        ),
        (
            lambda: SimpleUploadedFile(
                "logo.png", b"\x89PNG" + b"0" * (1024 * 1024 + 10), content_type="image/png"
            ),
            "Le logo pèse 1025 Ko, c'est trop",
        ),
    ],
    ids=["gif", "svg", "broken-png", "too-big"],
)
def test_a_bad_logo_is_refused_with_a_clear_message(client_for, commune, admin, upload, message):
    response = client_for(commune, admin).post(URL, {**_form(commune, name="Autre nom"), "logo": upload()})
    body = _text(response)
    assert response.status_code == 200
    assert message in body
    fresh = _fresh(commune)
    assert not fresh.logo and fresh.name == "Val-de-Brume"


def test_bad_contact_details_are_refused(client_for, commune, admin):
    response = client_for(commune, admin).post(URL, _form(commune, email="pas-une-adresse", name=""))
    body = _text(response)
    assert "Saisissez une adresse de courriel valide" in body and "Ce champ est obligatoire" in body
    assert _fresh(commune).email == ""


def test_no_module_installed_says_so(client_for, commune, admin, monkeypatch):
    for key in list(MODULES):  # an installation with no module app at all
        monkeypatch.delitem(MODULES, key)
    body = _text(client_for(commune, admin).get(URL))
    assert "Aucun service n'est encore installé sur cette plateforme" in body


def test_modules_are_switched_on_with_checkboxes(client_for, commune, admin, monkeypatch):
    monkeypatch.setitem(
        MODULES, "fablab", Module(key="fablab", name="Fablab", description="Machines", url_name="core:home")
    )
    client = client_for(commune, admin)
    page = client.get(URL).content.decode()
    assert 'type="checkbox" name="enabled_modules" value="fablab"' in page
    client.post(URL, {**_form(commune), "enabled_modules": ["fablab"]})
    assert _fresh(commune).enabled_modules == ["fablab"]
    response = client.post(URL, {**_form(commune), "enabled_modules": ["spaceport"]})
    assert response.status_code == 200 and "Sélectionnez un choix valide" in _text(response)
    assert _fresh(commune).enabled_modules == ["fablab"]


def test_only_a_commune_admin_may_change_the_commune(client_for, commune):
    agent = make_user(commune, Role.AGENT)
    assert client_for(commune, agent).post(URL, _form(commune, name="Piraté")).status_code == 403
    with scope(commune=commune), pytest.raises(PermissionDenied):
        commune_update(commune=commune, by=agent, name="Piraté")
    assert _fresh(commune).name == "Val-de-Brume"


def test_an_admin_of_another_commune_cannot_change_this_one(commune, other_commune):
    far_admin = make_user(other_commune, Role.ADMIN)
    with scope(commune=commune), pytest.raises(PermissionDenied):
        commune_update(commune=commune, by=far_admin, name="Piraté")
