"""The production ASGI application, plus ``/__bench__/bare``: the minimal view with no middleware at all.

The ratio the goal speaks of compares pages with ``/__bench__/ok``, a minimal view behind the platform's own
middleware (sessions, commune lookup, security headers...). The bare view shows, for information, what that
middleware costs compared with Django's request handling alone.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from django.core.handlers.asgi import ASGIHandler
from django.test.utils import override_settings

from mairie.asgi import application as mairie_application

BARE_PATH = "/__bench__/bare"


class NoMiddlewareHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        with override_settings(MIDDLEWARE=[]):
            super().load_middleware(is_async=is_async)


bare_application = NoMiddlewareHandler()


async def application(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "http" and scope["path"] == BARE_PATH:
        return await bare_application(scope, receive, send)
    return await mairie_application(scope, receive, send)
