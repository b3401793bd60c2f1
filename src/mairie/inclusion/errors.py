"""Refusals of the Numéripôle, each with a message for the person in plain French (``str(error)``)."""

from __future__ import annotations


class InclusionError(Exception):
    """Something cannot be done; the message says why. ``field`` names the form field it is about, if any."""

    def __init__(self, message: object, *, field: str | None = None) -> None:
        self.message = str(message)
        self.field = field
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
