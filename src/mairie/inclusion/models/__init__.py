from .activity import Accompaniment, ActivityDay, Participation
from .catalogue import Theme, Workshop, WorkshopSession
from .equipment import Equipment, Loan
from .people import Beneficiary

__all__ = [
    "Accompaniment",
    "ActivityDay",
    "Beneficiary",
    "Equipment",
    "Loan",
    "Participation",
    "Theme",
    "Workshop",
    "WorkshopSession",
]
