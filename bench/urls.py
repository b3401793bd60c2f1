"""The production URLs plus ``/__bench__/ok``: a plain Django view, the yardstick for page throughput."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from mairie.core.permissions import public
from mairie.urls import handler403, handler404, handler500
from mairie.urls import urlpatterns as mairie_urlpatterns

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


@public
def minimal_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("__bench__/ok", minimal_view, name="bench_ok"),
    path("__bench__/bare", minimal_view, name="bench_bare"),  # reached only through bench.asgi, no middleware
    *mairie_urlpatterns,
]
