from .activity import Accompaniment, Participation
from .catalogue import Theme, Workshop, WorkshopSession
from .equipment import Equipment, Loan
from .people import Beneficiary

__all__ = [
    "Accompaniment",
    "Beneficiary",
    "Equipment",
    "Loan",
    "Participation",
    "Theme",
    "Workshop",
    "WorkshopSession",
]
