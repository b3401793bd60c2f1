from __future__ import annotations

from typing import Any

from django import forms, template
from django.forms.renderers import BaseRenderer, DjangoTemplates
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def widget_kind(bound_field: forms.BoundField) -> str:
    """'checkbox' for a single box, 'choices' for radio buttons or several boxes, 'input' otherwise."""
    widget = bound_field.field.widget
    if isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
        return "choices"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    return "input"


# Django's templates for these widgets are each one line, ``{% include "django/forms/widgets/input.html" %}``.
_PLAIN_INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{kind}.html"
    for kind in ("text", "password", "email", "number", "url", "tel", "search", "date", "time", "datetime")
)


class _PlainInputRenderer(BaseRenderer):
    """Writes a plain ``<input>`` exactly as Django's ``input.html`` and ``attrs.html`` would, without going
    through the template engine (three templates per field: a third of the sign-in page's time); any other
    widget goes to the form's own renderer."""

    def __init__(self, fallback: BaseRenderer) -> None:
        self.fallback = fallback

    def get_template(self, template_name: str) -> Any:
        return self.fallback.get_template(template_name)

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        if template_name not in _PLAIN_INPUT_TEMPLATES:
            return str(self.fallback.render(template_name, context, request=request))
        widget = context["widget"]
        html = [
            f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"'
        ]
        if widget["value"] is not None:
            html.append(f' value="{escape(widget["value"])}"')
        for name, value in widget["attrs"].items():
            if value is False:
                continue
            html.append(f" {conditional_escape(name)}")
            if value is not True:
                html.append(f'="{escape(value)}"')
        html.append(">")
        return "".join(html)


@register.filter
def plain_widget(bound_field: forms.BoundField) -> SafeString:
    """``{{ field }}``, faster for plain text-like inputs rendered by Django's own templates (same HTML)."""
    renderer = bound_field.form.renderer
    if (
        type(renderer) is not DjangoTemplates
        or bound_field.field.widget.template_name not in _PLAIN_INPUT_TEMPLATES
    ):
        return mark_safe(str(bound_field))  # noqa: S308 (Django's own widget rendering, escaped)
    bound_field.form.renderer = _PlainInputRenderer(renderer)
    try:
        return mark_safe(str(bound_field))  # noqa: S308 (escaped above, as Django's templates escape)
    finally:
        bound_field.form.renderer = renderer


@register.filter
def phone(number: str | None) -> str:
    """A stored number (E.164) as people read it: ``+33611223344`` → ``06 11 22 33 44`` (others unchanged)."""
    from mairie.core.phones import format_phone

    return format_phone(number) if number else ""


@register.filter
def duration_minutes(minutes: int | None) -> str:
    """A number of minutes as people say it: ``720`` → « 12 heures », ``90`` → « 1 h 30 »."""
    from mairie.core.durations import human_minutes

    return "" if minutes is None else human_minutes(int(minutes))
