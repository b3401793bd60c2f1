"""Who is acting, and for whom: a staff member at the counter may act for a resident under a mandate."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from .models import Commune, Mandate, User

SESSION_KEY = "mairie_mandate_id"


@dataclass(frozen=True)
class Actor:
    """The person who clicks (``user``), the person the action is for (``subject``), and the mandate if any."""

    user: User
    commune: Commune
    subject: User
    mandate: Mandate | None = None

    @property
    def on_behalf(self) -> bool:
        return self.mandate is not None

    @classmethod
    def himself(cls, user: User, commune: Commune) -> Actor:
        return cls(user=user, commune=commune, subject=user)


def active_mandate(*, agent: User, mandate_id: int | None) -> Mandate | None:
    if not mandate_id:
        return None
    mandate = Mandate.objects.filter(pk=mandate_id, agent=agent).select_related("resident").first()
    if mandate is None or not mandate.is_active(timezone.now()):
        return None
    return mandate
