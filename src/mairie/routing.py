"""WebSocket routes. Modules append theirs to ``websocket_urlpatterns``."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import URLPattern

from mairie.homecare.consumers import websocket_urlpatterns as homecare_websockets

websocket_urlpatterns: list[URLPattern] = [*homecare_websockets]

websocket_application = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
