"""Reads of the Numéripôle. Callers are inside the commune's scope (a request, or a task that entered it)."""
