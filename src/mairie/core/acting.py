"""Who is acting, and for whom: a staff member at the counter may act for a resident under a mandate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from .models import AuditEntry, Commune, Mandate, User
from .services.audit import log_action

if TYPE_CHECKING:
    from django.http import HttpRequest

SESSION_KEY = "mairie_mandate_id"


@dataclass(frozen=True)
class Actor:
    """The person who clicks (``user``), the person the action is for (``subject``), the mandate if any."""

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


def log_for(actor: Actor, action: str, *, obj: Any = None, data: dict[str, Any] | None = None) -> AuditEntry:
    """Writes an audit row for what ``actor`` did: "done by X for Y" when staff act under a mandate."""
    return log_action(
        action,
        commune=actor.commune,
        actor=actor.user,
        obj=obj,
        on_behalf_of=actor.subject if actor.on_behalf else None,
        mandate=actor.mandate,
        data=data,
    )


class ActingRefused(Exception):
    """Acting for this person is not possible now (the message says why, in words for the agent)."""


def begin_acting(request: HttpRequest, mandate: Mandate) -> None:
    """From now on, this session acts for the mandate's resident (until stopped or the mandate expires)."""
    current: Actor | None = getattr(request, "actor", None)
    if current is not None and current.mandate is not None and current.mandate.pk != mandate.pk:
        raise ActingRefused(
            _("Vous agissez déjà pour %(name)s. Arrêtez d'abord d'agir pour cette personne.")
            % {"name": current.subject.display_name}
        )
    request.session[SESSION_KEY] = mandate.pk
    request.actor = Actor(  # type: ignore[attr-defined]
        user=mandate.agent, commune=mandate.commune, subject=mandate.resident, mandate=mandate
    )


def end_acting(request: HttpRequest) -> Mandate | None:
    """Stops acting in this session; returns the mandate that was in use, if any (it stays valid)."""
    mandate_id = request.session.pop(SESSION_KEY, None)
    current: Actor | None = getattr(request, "actor", None)
    mandate = current.mandate if current is not None else None
    if mandate is None or mandate.pk != mandate_id:
        return None
    request.actor = Actor.himself(current.user, current.commune)  # type: ignore[attr-defined, union-attr]
    return mandate
