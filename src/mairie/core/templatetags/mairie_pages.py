"""Template helpers for the page layout: navigation state, fragments rendered once, fixed URLs."""

from __future__ import annotations

import threading

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.template.base import FilterExpression, Parser, Token
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html
from django.utils.translation import get_language

register = template.Library()


@register.filter
def current_for(path: str, link: str) -> str:
    """``aria-current`` value for a navigation link: "page" on the page itself, "true" inside its section.

    The home page ("/") is only current on itself, otherwise every page would be inside it.
    """
    if not link:
        return ""
    if path == link:
        return "page"
    if link != "/" and path.startswith(link):
        return "true"
    return ""


@register.simple_tag
def commune_lang() -> str:
    """`` lang="fr"`` on text the commune wrote (welcome text, workshop titles...) when the page is in another
    language, so screen readers read it with French pronunciation (WCAG 3.1.2). Empty otherwise.

    ``<p{% commune_lang %}>{{ commune.welcome_text }}</p>``
    """
    content_language = settings.LANGUAGE_CODE
    if (get_language() or content_language).split("-")[0] == content_language:
        return ""
    return format_html(' lang="{}"', content_language)


# --- layout fragments rendered once -----------------------------------------------------------------------
#
# The layout (header, navigation, footer) is the same for every request with the same commune identity,
# language and navigation state, yet rendering it took about half of a simple page's time. Fragments are
# kept in this process, keyed by everything they show: the values named in the tag, the active language, the
# script prefix and the platform name. The key is the content's own inputs, so nothing needs invalidating:
# a renamed commune gives a new key on the first request whose commune object has the new name (the services
# that change a commune drop its cached copy), in every process alike. Kept in process memory rather than in
# the shared cache: no network round trip (Redis in production) for each fragment of each page.
# Whatever differs per request or per person (CSRF tokens, the person's name, the current address with its
# query string, messages) stays outside the fragments.

# About thirty fragments a commune (menu states × signed in or not × languages): room for a département's.
FRAGMENTS_MAX = 4096
_fragments: dict[tuple[object, ...], str] = {}
_fragments_lock = threading.Lock()


def forget_layout_fragments(**kwargs: object) -> None:
    """Drops every remembered fragment (a setting changed, e.g. in tests: URLs, static files, platform name)."""
    with _fragments_lock:
        _fragments.clear()
    _fixed_urls.clear()


setting_changed.connect(forget_layout_fragments)


class LayoutFragmentNode(template.Node):
    # No {% block %} may sit inside a fragment (a page's block would be frozen into it): declaring no child
    # node lists also keeps {% extends %}, which looks for blocks on each render, out of the fragment.
    child_nodelists = ()

    def __init__(self, name: str, nodelist: template.NodeList, vary_on: list[FilterExpression]) -> None:
        self.name = name
        self.nodelist = nodelist
        self.vary_on = vary_on

    def render(self, context: template.Context) -> str:
        key = (
            self.name,
            get_language(),
            get_script_prefix(),
            settings.MAIRIE_PLATFORM_NAME,
            *(variable.resolve(context) for variable in self.vary_on),
        )
        try:
            return _fragments[key]
        except KeyError:
            pass
        except TypeError:  # a value that cannot be a key: render without remembering
            return self.nodelist.render(context)
        html = self.nodelist.render(context)
        with _fragments_lock:
            if len(_fragments) >= FRAGMENTS_MAX:
                _fragments.pop(next(iter(_fragments)))  # the oldest
            _fragments[key] = html
        return html


@register.tag
def layout_fragment(parser: Parser, token: Token) -> LayoutFragmentNode:
    """``{% layout_fragment "footer" commune.name commune.address %}…{% endlayout_fragment %}``

    Renders its content once per distinct set of values named (plus language), then reuses it. Name every
    value the content shows or depends on; leave per-request values (``{% csrf_token %}``, the person's name)
    out of fragments.
    """
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("layout_fragment needs a name")
    nodelist = parser.parse(("endlayout_fragment",))
    parser.delete_first_token()
    name = bits[1].strip("\"'")
    return LayoutFragmentNode(name, nodelist, [parser.compile_filter(bit) for bit in bits[2:]])


_fixed_urls: dict[tuple[str, str, object], str] = {}


@register.simple_tag
def fixed_url(name: str) -> str:
    """``{% url %}`` for a route without parameters, reversed once per process (and script prefix)."""
    key = (name, get_script_prefix(), get_urlconf())
    try:
        return _fixed_urls[key]
    except KeyError:
        url = _fixed_urls[key] = reverse(name)
        return url


_NAV_LINKS = (("home", "core:home"), ("staff", "core:staff_home"), ("account", "core:account"))
_NAV_EXACT = (("login", "core:login"), ("signup", "core:signup"))


@register.filter
def nav_state(path: str) -> str:
    """Which main-menu link is current for ``path``, and how: all the navigation fragment needs of the path.

    ``"account=true"`` inside the account pages, ``"login=page"`` on the sign-in page, ``""`` elsewhere.
    Keying the fragment on this instead of the path keeps one copy per state, not one per address.
    """
    states = []
    for key, name in _NAV_LINKS:
        state = current_for(path, fixed_url(name))
        if state:
            states.append(f"{key}={state}")
    states += [f"{key}=page" for key, name in _NAV_EXACT if path == fixed_url(name)]
    return " ".join(states)
