from .accounts import LoginCode, LoginFailure, User
from .audit import AuditEntry
from .communes import Commune, CommuneHost
from .mandates import Mandate
from .memberships import Membership, Role
from .notifications import Notification, OutboxMessage, PushSubscription
from .privacy import ErasureRequest

__all__ = [
    "AuditEntry",
    "Commune",
    "CommuneHost",
    "ErasureRequest",
    "LoginCode",
    "LoginFailure",
    "Mandate",
    "Membership",
    "Notification",
    "OutboxMessage",
    "PushSubscription",
    "Role",
    "User",
]
