"""Walks the site in a real browser as one person: every page reachable by links, each distinct path once.

Pages added by any module are found by following links, so nobody has to list them here.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

# Never followed: signing out, the platform operators' Django admin, files rather than pages.
SKIPPED_PREFIXES = ("/admin/", "/static/", "/media/", "/deconnexion/")
SKIPPED_SUFFIXES = (
    *(".json", ".csv", ".xlsx", ".xls", ".ods", ".odt", ".docx", ".pdf", ".zip", ".ics", ".vcf"),
    *(".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".txt", ".xml", ".css", ".js"),
    *(".stl", ".3mf", ".obj", ".gcode", ".svgz", ".dxf"),
)
_ID_SEGMENT = re.compile(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27,}|[A-Za-z0-9_-]{20,})(?=/|$)")
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')

# Reads the page's links and its forms (only forms with required fields are sent empty: with a required field
# left blank the server must refuse them and change nothing, so sending them is safe on any page).
_PAGE_FACTS = """() => ({
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  forms: [...document.forms].map((form, index) => ({
    index,
    method: (form.getAttribute('method') || 'get').toLowerCase(),
    // getAttribute: a field named "action" would hide the form's own property
    action: new URL(form.getAttribute('action') || '', document.baseURI).href,
    fields: [...form.elements].map(e => e.name).filter(Boolean).sort().join(','),
    required: form.querySelectorAll([
      'input[required]:not([type=hidden]):not([type=checkbox]):not([type=radio])',
      'select[required]', 'textarea[required]',
    ].join(', ')).length,
    submit: !!form.querySelector('button[type=submit], button:not([type]), input[type=submit]'),
  })),
})"""

_EMPTY_AND_SEND = """(index) => {
  const form = document.forms[index];
  form.noValidate = true;
  for (const field of form.querySelectorAll('input, textarea')) {
    const type = (field.getAttribute('type') || 'text').toLowerCase();
    const kept = ['hidden', 'checkbox', 'radio', 'submit', 'button', 'file', 'color'];
    if (kept.includes(type) || field.readOnly) continue;
    field.value = '';
  }
  const button = form.querySelector('button[type=submit], button:not([type]), input[type=submit]');
  button.click();
}"""


def page_key(url: str) -> str:
    """What makes two URLs "the same page": the path, with object ids and tokens taken out, no query."""
    return _ID_SEGMENT.sub("/<id>", urlsplit(url).path)


def followable(url: str, origin: str) -> bool:
    url = urldefrag(url)[0]
    if not url.startswith(origin + "/") and url != origin:
        return False
    path = urlsplit(url).path
    return not path.startswith(SKIPPED_PREFIXES) and not path.lower().endswith(SKIPPED_SUFFIXES)


def dom_fingerprint(page: Page, private_words: Iterable[str]) -> str:
    """The page's HTML hashed without CSRF tokens, ids and the visitor's name: equal pages, one check."""
    html = _ID_SEGMENT.sub("/<id>", _CSRF.sub("", page.content()))
    for word in private_words:
        if word:
            html = html.replace(word, "<someone>")
    return hashlib.sha256(html.encode()).hexdigest()


@dataclass
class Visit:
    url: str
    status: int
    via_form: str = ""  # "" for a page followed by link, else the form's action sent empty


@dataclass
class Crawl:
    visits: list[Visit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def crawl(
    page: Page,
    origin: str,
    starts: Iterable[str],
    *,
    check: Callable[[Page, Visit], list[str]],
    max_pages: int = 60,
    send_empty_forms: bool = True,
    seen_forms: set[str] | None = None,
) -> Crawl:
    """Breadth-first from ``starts``; ``check(page, visit)`` returns problems found on each page reached.

    Each page is also checked after each of its forms is sent empty (error messages must be accessible too).
    A page answering 500 or more is a problem in itself.
    """
    result = Crawl()
    queue: deque[str] = deque(origin + path for path in starts)
    seen: set[str] = set()
    seen_forms = seen_forms if seen_forms is not None else set()
    while queue and len(result.visits) < max_pages:
        url = queue.popleft()
        if page_key(url) in seen:
            continue
        seen.add(page_key(url))
        try:
            response = page.goto(url)
        except PlaywrightError as error:
            if "Download is starting" in str(error):  # a file without a telling extension: not a page
                continue
            raise
        status = response.status if response else 0
        final = page.url
        if page_key(final) != page_key(url):  # redirected (to sign in, to the second factor...)
            if page_key(final) in seen:
                continue
            seen.add(page_key(final))
        visit = Visit(url=final, status=status)
        result.visits.append(visit)
        if status >= 500:
            result.problems.append(f"{final}: answered {status}")
            continue
        result.problems.extend(check(page, visit))
        facts = page.evaluate(_PAGE_FACTS)
        for link in facts["links"]:
            link = urldefrag(link)[0]
            if followable(link, origin) and page_key(link) not in seen:
                queue.append(link)
        if not send_empty_forms:
            continue
        for form in facts["forms"]:
            signature = f"{page_key(form['action'])}|{form['method']}|{form['fields']}"
            if not form["required"] or not form["submit"] or signature in seen_forms:
                continue
            if not followable(form["action"], origin):
                continue
            seen_forms.add(signature)
            with page.expect_navigation() as navigation:
                page.evaluate(_EMPTY_AND_SEND, form["index"])
            answer = navigation.value
            sent = Visit(url=page.url, status=answer.status if answer else 0, via_form=form["action"])
            result.visits.append(sent)
            if sent.status >= 500:
                result.problems.append(f"{form['action']} sent empty from {final}: answered {sent.status}")
            else:
                result.problems.extend(check(page, sent))
            page.goto(final)  # back to the page for its next form
    return result
