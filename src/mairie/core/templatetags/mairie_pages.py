"""Template helpers for the page layout (navigation state)."""

from __future__ import annotations

from django import template
from django.conf import settings
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
