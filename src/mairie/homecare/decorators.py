from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import Http404, HttpRequest, HttpResponse

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


def module_required(view: ViewFunc) -> ViewFunc:
    """404 when the commune has not switched the homecare module on. Keeps the permission declaration."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        commune = getattr(request, "commune", None)
        if commune is None or not commune.has_module("homecare"):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped  # type: ignore[return-value]
