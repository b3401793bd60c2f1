"""The page layout's remembered fragments (header, menu, footer) always show the current commune, language and
person; the sign-in form's fast widgets write exactly what Django's templates write."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.test import override_settings
from django.urls import reverse
from django_scopes import scopes_disabled

from mairie.core.forms import Form
from mairie.core.models import Role
from mairie.core.services.communes import commune_update
from mairie.core.templatetags.mairie import plain_widget
from mairie.core.templatetags.mairie_pages import fixed_url, nav_state
from mairie.core.tenancy import forget_commune_cache
from tests.factories import make_commune, make_user

pytestmark = pytest.mark.django_db


def _page(client, path: str = "/") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def _rename(commune, admin, capture, **fields: object) -> None:
    with capture(execute=True), scopes_disabled():
        commune_update(commune=commune, by=admin, **fields)


def test_renaming_the_commune_shows_at_once_in_title_header_and_footer(
    client_for, commune, django_capture_on_commit_callbacks
):
    admin = make_user(commune, Role.ADMIN)
    client = client_for(commune)
    before = _page(client)
    assert "<title>Accueil — Val-de-Brume</title>" in before
    assert '<span class="brand-name">Val-de-Brume</span>' in before
    assert "Mairie de Val-de-Brume" in before
    _rename(commune, admin, django_capture_on_commit_callbacks, name="Brume-sur-Mer")
    after = _page(client)
    assert "Val-de-Brume" not in after
    assert '<span class="brand-name">Brume-sur-Mer</span>' in after and "Mairie de Brume-sur-Mer" in after
    assert "Val-de-Brume" not in _page(client, reverse("core:login"))


def test_new_contact_details_and_colour_show_at_once_in_the_footer_and_head(
    client_for, commune, django_capture_on_commit_callbacks
):
    admin = make_user(commune, Role.ADMIN)
    client = client_for(commune)
    assert "02 99 00 00 01" not in _page(client)
    _rename(
        commune,
        admin,
        django_capture_on_commit_callbacks,
        phone="02 99 00 00 01",
        address="1 place de la Mairie",
        accent_colour="#7a2e0e",
    )
    footer = _page(client).split('<footer class="site-footer">')[1]
    assert 'href="tel:0299000001"' in footer and "1 place de la Mairie" in footer
    assert "commune.css?v=7a2e0e" in _page(client)


def test_a_new_logo_shows_at_once(client_for, commune):
    client = client_for(commune)
    assert "logo-commune" not in _page(client)
    shown = []
    for name in ("communes/logos/premier.png", "communes/logos/second.png"):
        with scopes_disabled():
            commune.logo = name
            commune.save()
        forget_commune_cache(commune)  # as commune_update does once its transaction commits
        found = re.search(r'<img src="/logo-commune\?v=([^"]+)"', _page(client))
        assert found is not None
        shown.append(found.group(1))
    assert shown == ["communeslogospremierpng", "communeslogossecondpng"]


def test_each_commune_keeps_its_own_layout(client, commune, other_commune):
    client.defaults["HTTP_HOST"] = "val-de-brume.test"
    assert "Mairie de Val-de-Brume" in _page(client)
    client.defaults["HTTP_HOST"] = "mont-clair.test"
    page = _page(client)
    assert "Mairie de Mont-Clair" in page and "Val-de-Brume" not in page


def test_the_layout_follows_the_language(client_for, commune):
    client = client_for(commune)
    assert 'aria-label="Menu principal"' in _page(client)
    client.cookies["django_language"] = "en"
    english = _page(client)
    assert '<html lang="en"' in english and 'aria-label="Menu principal"' not in english
    client.cookies["django_language"] = "fr"
    assert 'aria-label="Menu principal"' in _page(client)


def test_the_menu_follows_who_is_signed_in_and_where_they_are(client, commune):
    resident = make_user(commune, first_name="Odile")
    agent = make_user(commune, Role.AGENT, first_name="Karim")
    client.defaults["HTTP_HOST"] = "val-de-brume.test"
    anonymous = _page(client, reverse("core:login"))
    assert f'<a href="{reverse("core:login")}" aria-current="page">' in anonymous
    assert reverse("core:account") not in anonymous.split("</nav>")[0]
    client.force_login(resident, backend="mairie.core.auth_backends.LoginBackend")
    page = _page(client, reverse("core:account"))
    assert "Bonjour Odile" in page and f'<a href="{reverse("core:account")}" aria-current="page">' in page
    assert reverse("core:staff_home") not in page.split("</nav>")[0]
    home = _page(client)
    assert f'<a href="{reverse("core:account")}">' in home and 'aria-current="page">Accueil' in home
    client.force_login(agent, backend="mairie.core.auth_backends.LoginBackend")
    page = _page(client)
    assert "Bonjour Karim" in page and "Odile" not in page
    assert f'href="{reverse("core:staff_home")}"' in page.split("</nav>")[0]
    client.logout()
    page = _page(client)
    assert "Karim" not in page and f'<a href="{reverse("core:login")}">' in page


def test_every_page_gets_its_own_csrf_token_and_return_address(client_for, commune):
    client = client_for(commune)
    tokens = set()
    for path in ("/", "/?a=1", reverse("core:login")):
        client.cookies.clear()
        page = _page(client, path)
        tokens.add(re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1))
        assert f'<input type="hidden" name="next" value="{path.replace("&", "&amp;")}">' in page
    assert len(tokens) == 3


def test_the_menu_state_depends_only_on_the_menu_links():
    assert nav_state(reverse("core:home")) == "home=page"
    assert nav_state(reverse("core:account")) == "account=page"
    assert nav_state(reverse("core:account") + "historique/") == "account=true"
    assert nav_state(reverse("core:login")) == "login=page"
    assert nav_state("/ailleurs/") == nav_state("/autre-part/") == ""


def test_fixed_url_is_reverse():
    assert fixed_url("core:login") == reverse("core:login")
    with override_settings(ROOT_URLCONF="bench.urls"):
        assert fixed_url("bench_ok") == "/__bench__/ok"


class _AllInputs(Form):
    text = forms.CharField(
        label="Texte", help_text="Aide", widget=forms.TextInput(attrs={"spellcheck": "false"})
    )
    password = forms.CharField(label="Mot de passe", widget=forms.PasswordInput(render_value=True))
    email = forms.EmailField(label="E-mail", required=False)
    number = forms.IntegerField(label="Nombre", required=False, disabled=True)
    day = forms.DateField(label="Jour", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    url = forms.URLField(label="Adresse web", required=False, assume_scheme="https")
    choice = forms.ChoiceField(label="Choix", choices=[("a", "A"), ("b", "B")], required=False)
    box = forms.BooleanField(label="Case", required=False)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"text": '"><script>alert(1)</script> & co', "password": "p'\"<", "email": "pas-une-adresse"},
        {"text": "", "number": "12", "day": "2026-11-26", "url": "https://exemple.fr/?a=1&b=2"},
    ],
)
def test_plain_widgets_write_what_djangos_templates_write(data):
    form = _AllInputs(data)
    form.is_valid() if data is not None else None
    for field in form:
        assert plain_widget(field) == str(field), field.name


def test_the_sign_in_form_is_unchanged_with_errors(client_for, commune):
    client = client_for(commune)
    page = client.post(reverse("core:login"), {"login": 'a"<b', "password": ""}).content.decode()
    assert 'value="a&quot;&lt;b"' in page and 'aria-invalid="true"' in page
    assert 'id="id_password-error"' in page


@pytest.fixture
def other_commune_with_same_name(db):
    with scopes_disabled():
        return make_commune("Val-de-Brume", hosts=("autre-val.test",), address="Ailleurs", insee_code="35999")


def test_two_communes_with_the_same_name_keep_their_own_footer(client, commune, other_commune_with_same_name):
    with scopes_disabled():
        commune.address = "Ici"
        commune.save()
    client.defaults["HTTP_HOST"] = "val-de-brume.test"
    assert "Ici" in _page(client).split('<footer class="site-footer">')[1]
    client.defaults["HTTP_HOST"] = "autre-val.test"
    footer = _page(client).split('<footer class="site-footer">')[1]
    assert "Ailleurs" in footer and "Ici" not in footer


def test_the_home_pages_own_sections_follow_the_commune_and_the_visitor(
    client_for, commune, django_capture_on_commit_callbacks
):
    admin = make_user(commune, Role.ADMIN)
    client = client_for(commune)
    assert "Se connecter</a>" in _page(client).split("<main")[1]
    _rename(
        commune,
        admin,
        django_capture_on_commit_callbacks,
        welcome_text="Nouveau : la mairie ouvre le samedi.",
        opening_hours="Samedi : 9 h – 12 h",
        email="accueil@val-de-brume.test",
    )
    main = _page(client).split("<main")[1]
    assert "Nouveau : la mairie ouvre le samedi." in main
    assert "Samedi : 9 h – 12 h" in main and "mailto:accueil@val-de-brume.test" in main
    client.force_login(make_user(commune), backend="mairie.core.auth_backends.LoginBackend")
    signed_in = _page(client).split("<main")[1]
    assert "Aller à mon compte" in signed_in and "Créer un compte</a>" not in signed_in


def test_the_sign_in_page_keeps_where_to_go_next_in_the_code_link(client_for, commune):
    client = client_for(commune)
    plain = _page(client, reverse("core:login"))
    assert f'href="{reverse("core:login_code")}"' in plain
    onward = _page(client, reverse("core:login") + "?next=/mon-compte/")
    assert f'href="{reverse("core:login_code")}?next=/mon-compte/"' in onward
    assert f'href="{reverse("core:login_code")}"' in _page(client, reverse("core:login"))
