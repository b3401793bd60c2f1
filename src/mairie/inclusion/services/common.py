"""Helpers shared by the Numéripôle's services."""

from __future__ import annotations

from mairie.core.acting import Actor
from mairie.core.permissions import ensure_capability


def ensure_manager(actor: Actor) -> None:
    """The person clicking runs the Numéripôle here (mediator or commune admin)."""
    ensure_capability(actor.user, actor.commune, "inclusion.manage")
