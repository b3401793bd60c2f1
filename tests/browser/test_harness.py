"""The browser harness itself: axe really reports problems, the crawler stays on the site and skips files."""

from __future__ import annotations

from tests.browser.conftest import axe_violations, describe_violations, horizontal_overflow
from tests.browser.crawl import followable, page_key


def test_axe_reports_a_broken_page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<html><head><title>x</title></head><body><img src='a.png'><input></body></html>")
    violations = axe_violations(page)
    ids = {violation["id"] for violation in violations}
    assert {"html-has-lang", "image-alt", "label", "page-has-heading-one", "landmark-one-main"} <= ids
    report = describe_violations("broken page", violations)
    assert "image-alt" in report and "img" in report and "dequeuniversity.com" in report
    context.close()


def test_overflow_is_measured_and_its_culprit_named(browser):
    context = browser.new_context(viewport={"width": 320, "height": 600})
    page = context.new_page()
    page.set_content("<html lang='fr'><body><p id='wide' style='width: 500px'>texte</p></body></html>")
    extra, culprits = horizontal_overflow(page)
    assert extra > 150 and culprits and culprits[0].startswith("p#wide")
    context.close()


def test_crawler_follows_pages_of_this_site_only():
    origin = "http://localhost:8123"
    assert followable(origin + "/mon-compte/", origin)
    assert not followable("http://localhost:8124/", origin)
    assert not followable("https://www.cnil.fr/fr/plaintes", origin)
    assert not followable(origin + "/admin/", origin)
    assert not followable(origin + "/mon-compte/donnees.json", origin)
    assert not followable(origin + "/gestion/journal/export.csv", origin)
    assert page_key(origin + "/gestion/habitants/12/?page=2") == page_key(origin + "/gestion/habitants/13/")
    assert page_key(origin + "/gestion/habitants/") != page_key(origin + "/gestion/habitants/12/")
