"""ASGI entry point: HTTP through Django, WebSockets through Channels (routes added by the modules)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mairie.settings.dev")

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from mairie.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_application, "websocket": websocket_application})
