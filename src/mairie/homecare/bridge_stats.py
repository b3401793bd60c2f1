"""The bridge's counters and dead letters: written by the bridge inside its batch transaction, read by staff pages.

Platform-level data (a refused message may belong to no commune), hence no scope here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_scopes import scopes_disabled

from mairie.core.models import User
from mairie.core.services.audit import log_action
from mairie.homecare.models import BridgeCounter, BridgeDeadLetter, Gateway


def add_counts(*, bridge: str, counts: Mapping[str, int]) -> None:
    """Adds ``counts`` (reason → number) to ``bridge``'s rows; call it inside the transaction being counted.

    Another bridge may write these rows too (it applies what this one staged): rows are updated in one order
    (by reason), so that two transactions never wait for each other in a cycle, and a row both create at once
    is created by one and updated by the other."""
    now = timezone.now()
    with transaction.atomic():
        for reason, number in sorted(counts.items()):
            if not number:
                continue
            if _add(bridge, reason, number, now):
                continue
            try:
                with transaction.atomic():
                    BridgeCounter.objects.create(bridge=bridge, reason=reason, count=number, updated_at=now)
            except IntegrityError:  # created meanwhile by the other bridge's transaction, now committed
                _add(bridge, reason, number, now)


def _add(bridge: str, reason: str, number: int, now: datetime) -> bool:
    return bool(
        BridgeCounter.objects.filter(bridge=bridge, reason=reason).update(
            count=F("count") + number, updated_at=now
        )
    )


def keep_dead_letter(*, bridge: str, topic: str, payload: bytes, error: str, received_at: datetime) -> None:
    BridgeDeadLetter.objects.create(
        bridge=bridge, topic=topic[:1000], payload=payload, error=error, received_at=received_at
    )


def totals(*, bridge: str | None = None) -> Counter[str]:
    """Counts per reason, for one bridge process or all of them together."""
    rows = BridgeCounter.objects.all()
    if bridge is not None:
        rows = rows.filter(bridge=bridge)
    return Counter(
        {row["reason"]: int(row["total"]) for row in rows.values("reason").annotate(total=Sum("count"))}
    )


def open_dead_letters() -> int:
    return BridgeDeadLetter.objects.filter(handled_at__isnull=True).count()


# ------------------------------------------------------------------------------------------------
# The platform operators' page ("État du pont MQTT"): reads and the two actions on a dead letter.
#
# Platform operators are the installation's superusers (``User.is_superuser``, the same test as the Django
# admin's ``has_permission`` in ``mairie/urls.py``): these rows belong to no commune, so no commune role may
# see them. Every function below takes the person acting and checks it again.
# ------------------------------------------------------------------------------------------------

# A bridge whose counters have not moved for this long while gateways say they are online is worth a look:
# with online gateways, devices report at least every few minutes (availability, readings, link quality).
BRIDGE_SILENT_AFTER = timedelta(minutes=5)
PAYLOAD_PREVIEW_CHARS = 300
NOTE_MAX_CHARS = 1000

REASON_LABELS: dict[str, str | Promise] = {
    "ok": _("message traité"),
    "staged": _("message reçu et enregistré, en attente de traitement"),
    "ignored": _("message sans intérêt pour nous (commande, réglage de la passerelle)"),
    "sampled": _("relevé de compteur trop rapproché du précédent (non gardé)"),
    "duplicate": _("message reçu en double"),
    "too_large": _("message trop gros"),
    "malformed": _("message illisible"),
    "foreign_topic": _("message hors des sujets de nos passerelles"),
    "unknown_gateway": _("message d'une passerelle inconnue"),
    "unknown_device": _("message d'un appareil inconnu"),
    "error": _("erreur de traitement (message mis de côté)"),
    "dropped": _("message refusé (sans raison donnée)"),
}
# Reasons that say something is wrong, shown first and highlighted.
WORRYING_REASONS = frozenset({"error", "unknown_device", "unknown_gateway", "foreign_topic", "too_large"})


def reason_label(reason: str) -> str:
    label = REASON_LABELS.get(reason)
    return str(label) if label is not None else gettext("autre raison : %(code)s") % {"code": reason}


def is_platform_operator(user: User | Any) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def ensure_platform_operator(user: User | Any) -> None:
    if not is_platform_operator(user):
        raise PermissionDenied("platform operators only")


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    label: str
    count: int
    worrying: bool


@dataclass(frozen=True)
class BridgeStatus:
    bridge: str
    last_activity: datetime
    counts: list[ReasonCount]
    total: int
    silent: bool


@dataclass(frozen=True)
class BridgeHealth:
    bridges: list[BridgeStatus]
    gateways_online: int
    open_dead_letters: int
    now: datetime

    @property
    def silent_bridges(self) -> list[BridgeStatus]:
        return [b for b in self.bridges if b.silent]

    @property
    def nobody_listening(self) -> bool:
        """Gateways say they are online, yet no bridge has ever counted anything."""
        return self.gateways_online > 0 and not self.bridges


def bridge_health(viewer: User, *, now: datetime | None = None) -> BridgeHealth:
    """Every bridge process with its counts in words, whether it fell silent, and what waits (three queries)."""
    ensure_platform_operator(viewer)
    now = now or timezone.now()
    per_bridge: dict[str, list[BridgeCounter]] = {}
    for row in BridgeCounter.objects.order_by("bridge", "reason"):
        per_bridge.setdefault(row.bridge, []).append(row)
    with scopes_disabled():  # platform-level: are any gateways, of any commune, expected to talk?
        gateways_online = Gateway.objects.filter(online=True).count()
    bridges = []
    for name, rows in per_bridge.items():
        last = max(row.updated_at for row in rows)
        counts = sorted(
            (
                ReasonCount(
                    r.reason, reason_label(r.reason), r.count, r.reason in WORRYING_REASONS and r.count > 0
                )
                for r in rows
            ),
            key=lambda c: (not c.worrying, c.reason != "ok", -c.count, c.reason),
        )
        bridges.append(
            BridgeStatus(
                bridge=name,
                last_activity=last,
                counts=counts,
                total=sum(r.count for r in rows),
                silent=gateways_online > 0 and now - last > BRIDGE_SILENT_AFTER,
            )
        )
    bridges.sort(key=lambda b: (not b.silent, b.bridge))
    return BridgeHealth(
        bridges=bridges, gateways_online=gateways_online, open_dead_letters=open_dead_letters(), now=now
    )


def dead_letters_waiting(viewer: User) -> QuerySet[BridgeDeadLetter]:
    """The dead letters nobody has handled yet, oldest first (the order they should be looked at)."""
    ensure_platform_operator(viewer)
    return BridgeDeadLetter.objects.filter(handled_at__isnull=True).order_by("received_at", "pk")


def payload_preview(payload: bytes | memoryview, *, limit: int = PAYLOAD_PREVIEW_CHARS) -> str:
    """The payload as text for a person to read: never interpreted, invalid bytes replaced, cut at ``limit``.
    (Escaping is the template's job: this stays plain text.)"""
    text = bytes(payload).decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"


class DeadLetterUnavailable(ValidationError):
    """The dead letter does not exist or was already handled (by someone else, a moment ago)."""


def _open_letter(dead_letter_id: int) -> BridgeDeadLetter:
    letter = (
        BridgeDeadLetter.objects.select_for_update()
        .filter(pk=dead_letter_id, handled_at__isnull=True)
        .first()
    )
    if letter is None:
        raise DeadLetterUnavailable(
            gettext(
                "Ce message n'existe pas ou a déjà été traité (peut-être par quelqu'un d'autre à l'instant)."
            )
        )
    return letter


def dead_letter_mark_handled(*, actor: User, dead_letter_id: int, note: str) -> BridgeDeadLetter:
    """Closes a dead letter without replaying it; the note (why) goes into the audit log."""
    ensure_platform_operator(actor)
    note = (note or "").strip()
    if not note:
        raise ValidationError(
            {"note": gettext("Écrivez en quelques mots pourquoi ce message n'a pas besoin d'être rejoué.")}
        )
    if len(note) > NOTE_MAX_CHARS:
        raise ValidationError(
            {
                "note": gettext("La note est trop longue (%(max)s caractères au plus).")
                % {"max": NOTE_MAX_CHARS}
            }
        )
    with transaction.atomic(durable=True):
        letter = _open_letter(dead_letter_id)
        letter.handled_at = timezone.now()
        letter.save(update_fields=["handled_at"])
        log_action(
            "homecare.bridge.dead_letter_handled",
            commune=None,
            actor=actor,
            obj=letter,
            data={"note": note, "topic": letter.topic, "bridge": letter.bridge},
        )
    return letter


@dataclass(frozen=True)
class ReplayResult:
    letter: BridgeDeadLetter
    handled: bool  # accepted by ingestion: the dead letter is closed
    reason: str  # ingestion's reason ("ok", "unknown_device"...) or "error" when it raised again
    error: str = ""

    @property
    def reason_text(self) -> str:
        return reason_label(self.reason)


def dead_letter_replay(*, actor: User, dead_letter_id: int) -> ReplayResult:
    """Runs the stored message through ``ingest_message`` again, with its original reception time.

    Accepted: the dead letter is closed. Refused (an unknown device...) or failing again: it stays open and the
    reason is returned. Either way one audit row says what happened; the message's own effects (an alarm and its
    notifications) are committed with it, in one transaction.
    """
    from mairie.homecare.services.ingest import ingest_message

    ensure_platform_operator(actor)
    with transaction.atomic(durable=True):
        letter = _open_letter(dead_letter_id)
        try:
            with transaction.atomic():  # a failure leaves nothing half-written, and the transaction usable
                outcome = ingest_message(
                    topic=letter.topic, payload=bytes(letter.payload), received_at=letter.received_at
                )
        except Exception as error:  # what the bridge itself catches: a bug in the handler
            result = ReplayResult(letter=letter, handled=False, reason="error", error=repr(error)[:2000])
        else:
            result = ReplayResult(
                letter=letter, handled=bool(outcome.accepted), reason=outcome.reason or "ok"
            )
        if result.handled:
            letter.handled_at = timezone.now()
            letter.save(update_fields=["handled_at"])
        log_action(
            "homecare.bridge.dead_letter_replayed",
            commune=None,
            actor=actor,
            obj=letter,
            data={
                "topic": letter.topic,
                "bridge": letter.bridge,
                "handled": result.handled,
                "reason": result.reason,
                "error": result.error,
            },
        )
    return result
