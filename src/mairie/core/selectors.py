"""Reads that enforce who may see what. Views fetch through these, never by a raw primary key.

A person sees only their own history, mandates and requests: asking for someone else's id gives a 404, the
same answer as an id that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext

from mairie.core.action_labels import describe_action
from mairie.core.models import AuditEntry, Commune, ErasureRequest, Mandate, Membership, Role, User
from mairie.core.permissions import ensure_capability

# When a person holds several roles, the one named next to their name ("Sophie Lambert (agent de mairie)").
_ROLE_SHOWN_FIRST = [
    Role.AGENT,
    Role.MEDIATOR,
    Role.ADMIN,
    Role.NURSE,
    Role.PRACTITIONER,
    Role.OPERATOR,
    Role.FABLAB_MANAGER,
    Role.MODERATOR,
    Role.RELATIVE,
    Role.RESIDENT,
]


def history_for(user: User, commune: Commune) -> QuerySet[AuditEntry]:
    """What the person did, and what was done for them, in this commune: newest first."""
    return (
        AuditEntry.objects.filter(commune=commune)
        .filter(Q(actor=user) | Q(on_behalf_of=user))
        .select_related("actor", "on_behalf_of")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class HistoryLine:
    when: datetime
    what: str
    by_whom: str  # empty when the person did it themself


def role_labels(commune: Commune, users: Iterable[User]) -> dict[int, str]:
    """The role to name next to each person, in one query whatever the number of people."""
    ids = {u.pk for u in users}
    held: dict[int, set[str]] = {}
    for user_id, role in Membership.objects.filter(commune=commune, user_id__in=ids).values_list(
        "user_id", "role"
    ):
        held.setdefault(user_id, set()).add(role)
    return {
        user_id: str(next(r.label for r in _ROLE_SHOWN_FIRST if r in roles))
        for user_id, roles in held.items()
    }


def history_lines(user: User, commune: Commune, entries: Iterable[AuditEntry]) -> list[HistoryLine]:
    """Each entry in plain words, saying who did it when it was not the person."""
    entries = list(entries)
    others = [e.actor for e in entries if e.actor is not None and e.actor_id != user.pk]
    roles = role_labels(commune, others)
    lines = []
    for entry in entries:
        by_whom = ""
        if entry.actor is None:
            by_whom = gettext("Fait automatiquement par le site")
        elif entry.actor_id != user.pk:
            name = entry.actor.display_name
            role = roles.get(entry.actor.pk)
            by_whom = (
                gettext("Fait par %(name)s (%(role)s) pour vous") % {"name": name, "role": role}
                if role
                else gettext("Fait par %(name)s pour vous") % {"name": name}
            )
        elif entry.on_behalf_of is not None and entry.on_behalf_of_id != user.pk:
            by_whom = gettext("Fait par vous pour %(name)s") % {"name": entry.on_behalf_of.display_name}
        lines.append(HistoryLine(when=entry.created_at, what=describe_action(entry.action), by_whom=by_whom))
    return lines


def mandates_given_by(user: User, commune: Commune) -> QuerySet[Mandate]:
    """The accords this person gave for someone to act for them, the running ones first."""
    return (
        Mandate.objects.filter(commune=commune, resident=user)
        .select_related("agent", "revoked_by")
        .order_by("revoked_at", "-expires_at")
    )


def mandate_given_by(user: User, commune: Commune, mandate_id: int) -> Mandate:
    """One of this person's own mandates; any other id is a 404."""
    mandate = mandates_given_by(user, commune).filter(pk=mandate_id).first()
    if mandate is None:
        raise Http404
    return mandate


def open_erasure_request(user: User, commune: Commune) -> ErasureRequest | None:
    return (
        ErasureRequest.objects.filter(commune=commune, user=user, status=ErasureRequest.Status.PENDING)
        .order_by("-requested_at")
        .first()
    )


def erasure_requests_to_handle(viewer: User, commune: Commune) -> QuerySet[ErasureRequest]:
    ensure_capability(viewer, commune, "core.handle_erasure")
    return (
        ErasureRequest.objects.filter(commune=commune, status=ErasureRequest.Status.PENDING)
        .select_related("user")
        .order_by("requested_at")
    )


def erasure_requests_handled(viewer: User, commune: Commune) -> QuerySet[ErasureRequest]:
    ensure_capability(viewer, commune, "core.handle_erasure")
    return (
        ErasureRequest.objects.filter(commune=commune)
        .exclude(status=ErasureRequest.Status.PENDING)
        .select_related("user", "handled_by")
        .order_by("-handled_at")
    )


def erasure_request_to_handle(viewer: User, commune: Commune, request_id: int) -> ErasureRequest:
    """A pending request of this commune, for someone allowed to handle it; anything else is a 404."""
    found = erasure_requests_to_handle(viewer, commune).filter(pk=request_id).first()
    if found is None:
        raise Http404
    return found
