"""Queue tasks of the core app. Tasks take IDs, reload objects and re-enter the commune's scope."""

from __future__ import annotations
