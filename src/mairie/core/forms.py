"""Form helpers: every field gets a visible label, help and error text tied to it for screen readers."""

from __future__ import annotations

from django import forms


class AccessibleFormMixin:
    """Marks invalid fields with aria-invalid and points them at their error and help text.

    Use with ``{% include "core/includes/form.html" %}``, which renders an error summary with links to the
    faulty fields, then each field with its label, help and error.
    """

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        form: forms.BaseForm = self  # type: ignore[assignment]
        for name, field in form.fields.items():
            bound = form[name]
            described = []
            if field.help_text:
                described.append(f"{bound.auto_id}-help")
            if form.errors.get(name):
                field.widget.attrs["aria-invalid"] = "true"
                described.insert(0, f"{bound.auto_id}-error")
            else:
                field.widget.attrs.pop("aria-invalid", None)
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        form: forms.BaseForm = self  # type: ignore[assignment]
        for name, field in form.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"{form[name].auto_id}-help"
            if field.required and not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("required", True)


class Form(AccessibleFormMixin, forms.Form):
    pass


class ModelForm(AccessibleFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    pass
