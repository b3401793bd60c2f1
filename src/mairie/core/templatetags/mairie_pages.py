"""Template helpers for the page layout (navigation state)."""

from __future__ import annotations

from django import template

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
