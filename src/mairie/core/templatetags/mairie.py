from __future__ import annotations

from django import forms, template

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
