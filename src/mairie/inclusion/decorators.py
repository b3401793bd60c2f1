"""``module_required``: the Numéripôle's pages exist only where the commune switched the module on."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import Http404, HttpRequest, HttpResponse

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


def module_required(key: str) -> Callable[[ViewFunc], ViewFunc]:
    """A 404 when the commune has not switched ``key`` on (keeps the view's declared capability)."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            commune = getattr(request, "commune", None)
            if commune is None or not commune.has_module(key):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
