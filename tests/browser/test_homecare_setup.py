"""The setup pages in a real browser with axe-core: the pages the crawler does not reach (the gateway's password
shown once after a POST, errors found by the services rather than by the forms) and the whole path of setting up
a home by clicking; then the call order changed without JavaScript (axe itself needs JavaScript to run)."""

from __future__ import annotations

from django_scopes import scope, scopes_disabled

from mairie.core.acting import Actor
from mairie.core.models import Role
from mairie.homecare.models import Contact, Device, Gateway
from mairie.homecare.services import homes as services
from tests.browser.conftest import REFLOW_WIDTHS, assert_accessible, overflow_problems
from tests.factories import make_user


def test_set_up_a_home_by_clicking_and_every_page_passes_axe(site, town):
    with scopes_disabled():
        town.enabled_modules = [*town.enabled_modules, "homecare"]
        town.save(update_fields=["enabled_modules"])
    agent = make_user(town, Role.AGENT)
    resident = make_user(town, first_name="Odette", last_name="Lemoine")
    with scope(commune=town):
        home = services.home_create(actor=Actor.himself(agent, town), resident=resident, label="Maison 4")
    page = site.page(user=agent)

    page.goto(f"/teleassistance/gestion/logements/{home.pk}/")
    assert_accessible(page, "home without gateway")
    page.get_by_role("button", name="Enregistrer la passerelle").click()
    assert page.get_by_text("il ne sera plus jamais affiché").count() == 1
    assert_accessible(page, "gateway password shown once")

    page.get_by_role("link", name="C'est noté : ajouter les appareils").click()
    page.get_by_role("link", name="Ajouter un appareil").click()
    page.get_by_label("Nom dans Zigbee2MQTT").fill("salon/mouvement")
    page.get_by_label("Type d'appareil").select_option("motion")
    page.get_by_label("Pièce").fill("salon")
    page.get_by_role("button", name="Ajouter l'appareil").click()

    page.get_by_role("link", name="Modifier les réglages").click()
    page.get_by_label("Le matin, un mouvement est attendu avant").fill("10:00")
    page.get_by_label("Dans la pièce").fill("cuisine")
    page.get_by_role("button", name="Enregistrer les réglages").click()
    assert page.get_by_text("Aucun détecteur de mouvement dans cette pièce").count() >= 1
    assert_accessible(page, "settings refused by the service")
    page.get_by_label("Dans la pièce").fill("salon")
    page.get_by_role("button", name="Enregistrer les réglages").click()

    for name, phone in (("Julie Moreau", "06 11 22 33 44"), ("Paul Voisin", "06 55 66 77 88")):
        page.get_by_role("link", name="Ajouter une personne à prévenir").click()
        page.get_by_label("Nom").fill(name)
        page.get_by_label("Téléphone").fill(phone)
        page.get_by_role("button", name="Ajouter la personne").click()
    assert_accessible(page, "home set up")
    no_script = site.page(user=agent, javascript=False)
    no_script.goto(f"/teleassistance/gestion/logements/{home.pk}/")
    with no_script.expect_navigation():
        no_script.get_by_role("button", name="Monter Paul Voisin").click()
    assert no_script.get_by_text("Paul Voisin est maintenant en position 1.").count() == 1

    with scopes_disabled():
        gateway = Gateway.objects.get(home=home)
        assert Device.objects.get(gateway=gateway).friendly_name == "salon/mouvement"
        assert list(Contact.objects.filter(home=home).order_by("order").values_list("name", flat=True)) == [
            "Paul Voisin",
            "Julie Moreau",
        ]
        home.refresh_from_db()
    assert home.morning_check_room == "salon"


def test_the_list_and_a_homes_page_never_scroll_sideways_on_a_phone_or_zoomed(site, town):
    """Their tables scroll inside their frame; the visually hidden text of their cells (« Modifier
    <le pendentif> »…) must not widen the page (WCAG 1.4.10: 320 px, and 640 px for a 200 % zoom)."""
    with scopes_disabled():
        town.enabled_modules = [*town.enabled_modules, "homecare"]
        town.save(update_fields=["enabled_modules"])
    agent = make_user(town, Role.AGENT)
    resident = make_user(town, first_name="Marie-Bernadette", last_name="de La Tour-Villeneuve")
    actor = Actor.himself(agent, town)
    with scope(commune=town):
        home = services.home_create(actor=actor, resident=resident, label="Résidence des Tilleuls, maison 12")
        gateway, _password = services.gateway_register(actor=actor, home=home)
        for name, kind, room in (
            ("chambre/pendentif-appel-urgence", Device.Kind.SOS, "chambre"),
            ("salle_de_bain/detecteur-de-chute", Device.Kind.FALL, "salle de bain"),
            ("cuisine/detecteur-de-fumee", Device.Kind.SMOKE, "cuisine"),
            ("entree/contact-porte-principale", Device.Kind.CONTACT, "entrée"),
        ):
            services.device_register(actor=actor, gateway=gateway, friendly_name=name, kind=kind, room=room)
    page = site.page(user=agent, width=REFLOW_WIDTHS[0], height=800)
    for path in ("/teleassistance/gestion/logements/", f"/teleassistance/gestion/logements/{home.pk}/"):
        page.goto(path)
        assert overflow_problems(page, path) == []
