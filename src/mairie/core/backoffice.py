"""Reads for the commune's back office: finding residents, reading the audit log.

Each function takes the person looking and checks their capability, and only ever reads inside the commune:
an id from another commune is a 404, the same answer as an id that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import CharField, Prefetch, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mairie.core.action_labels import describe_action
from mairie.core.models import AuditEntry, Commune, Membership, Role, User
from mairie.core.permissions import ensure_capability
from mairie.core.phones import normalise_phone

_DIGITS = re.compile(r"[\s.\-()/+]")


@dataclass(frozen=True)
class StaffArea:
    """A card on the staff home ("Gestion"), shown to the people who hold ``capability``."""

    capability: str
    url_name: str
    title: str | Promise
    description: str | Promise


STAFF_AREAS: list[StaffArea] = [
    StaffArea(
        "core.manage_residents",
        "core:staff_residents",
        _("Habitants"),
        _("Trouver une personne, créer un compte au guichet, agir pour elle avec son accord."),
    ),
    StaffArea(
        "core.manage_roles",
        "core:staff_roles",
        _("Rôles"),
        _("Qui fait quoi à la mairie : donner ou retirer un rôle."),
    ),
    StaffArea(
        "core.manage_commune",
        "core:staff_commune",
        _("La commune"),
        _("Nom, logo, couleur, coordonnées, horaires et services en ligne."),
    ),
    StaffArea(
        "core.view_audit",
        "core:staff_audit",
        _("Journal"),
        _("Tout ce qui a été fait sur le site, par qui et pour qui."),
    ),
    StaffArea(
        "core.view_outbox", "core:outbox", _("Messages envoyés"), _("Les e-mails et SMS partis du site.")
    ),
    StaffArea(
        "core.handle_erasure",
        "core:staff_erasures",
        _("Demandes d'effacement"),
        _("Les personnes qui demandent à effacer leur compte."),
    ),
]


def register_staff_area(area: StaffArea) -> None:
    """Modules call this from their AppConfig.ready() to put their back-office pages on the staff home."""
    STAFF_AREAS.append(area)


def members_of(commune: Commune) -> QuerySet[User]:
    """Everyone who holds a role in this commune (the scoped Membership manager keeps it to this commune)."""
    return User.objects.filter(pk__in=Membership.objects.filter(commune=commune).values("user_id"))


def _search(users: QuerySet[User], query: str) -> QuerySet[User]:
    """Every word must match a name, the identifier or the email; a number matches the phone."""
    query = (query or "").strip()
    if not query:
        return users
    phone = normalise_phone(query)
    if phone:
        return users.filter(phone=phone)
    for word in query.split():
        condition = (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
            | Q(email__icontains=word)
        )
        digits = _DIGITS.sub("", word)
        if digits.isdigit() and len(digits) >= 3:
            # People type the national form (06 12...), numbers are kept as +336 12...: drop the trunk zero.
            condition |= Q(phone__contains=digits[1:] if digits.startswith("0") else digits)
        users = users.filter(condition)
    return users


def residents(viewer: User, commune: Commune, *, query: str = "", role: str = "") -> QuerySet[User]:
    """The commune's people, with their roles here prefetched (constant number of queries per page)."""
    ensure_capability(viewer, commune, "core.manage_residents")
    people = members_of(commune).filter(erased_at__isnull=True)
    if role in Role.values:
        people = people.filter(pk__in=Membership.objects.filter(commune=commune, role=role).values("user_id"))
    return (
        _search(people, query)
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.filter(commune=commune).order_by("role"),
                to_attr="roles_here",
            )
        )
        .order_by("last_name", "first_name", "pk")
    )


def resident(viewer: User, commune: Commune, user_id: int) -> User:
    """One person of this commune; anyone else (or nobody) is a 404."""
    found = residents(viewer, commune).filter(pk=user_id).first()
    if found is None:
        raise Http404
    return found


def resident_history(user: User, commune: Commune, *, limit: int = 20) -> list[AuditEntry]:
    """What the person did, what was done for them and what was done to their account, in this commune."""
    return list(
        AuditEntry.objects.filter(commune=commune)
        .filter(Q(actor=user) | Q(on_behalf_of=user) | Q(object_type="core.user", object_id=str(user.pk)))
        .select_related("actor", "on_behalf_of")
        .order_by("-created_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    person: str = ""
    date_from: date | None = None
    date_to: date | None = None


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_entries(viewer: User, commune: Commune, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The commune's log, newest first, filtered; people fetched with the rows (no query per row)."""
    ensure_capability(viewer, commune, "core.view_audit")
    entries = AuditEntry.objects.filter(commune=commune)
    if filters.action:
        entries = entries.filter(action__startswith=filters.action.strip())
    if filters.person:
        people = _search(members_of(commune).filter(erased_at__isnull=True), filters.person)
        ids_as_text = people.annotate(id_text=Cast("pk", CharField())).values("id_text")
        entries = entries.filter(
            Q(actor__in=people.values("pk"))
            | Q(on_behalf_of__in=people.values("pk"))
            | Q(object_type="core.user", object_id__in=ids_as_text)
        )
    if filters.date_from:
        entries = entries.filter(created_at__gte=_start_of(filters.date_from))
    if filters.date_to:
        entries = entries.filter(created_at__lt=_start_of(filters.date_to + timedelta(days=1)))
    return entries.select_related("actor", "on_behalf_of").order_by("-created_at", "-id")


@dataclass(frozen=True)
class AuditLine:
    entry: AuditEntry
    what: str
    by: str
    for_whom: str
    about: str

    @property
    def done_by_for(self) -> str:
        """ "Sophie Lambert pour Odette Vidal", or the one name, or "le site" for automatic actions."""
        if self.for_whom:
            return gettext("%(by)s pour %(for)s") % {"by": self.by, "for": self.for_whom}
        return self.by


def audit_lines(entries: Iterable[AuditEntry]) -> list[AuditLine]:
    """Rows in words, people by their current name; the people rows are about are fetched in one query."""
    entries = list(entries)
    user_ids = {int(e.object_id) for e in entries if e.object_type == "core.user" and e.object_id.isdigit()}
    about_users = {u.pk: u for u in User.objects.filter(pk__in=user_ids)} if user_ids else {}
    automatic = gettext("le site (automatique)")
    lines = []
    for entry in entries:
        if entry.object_type == "core.user" and entry.object_id.isdigit():
            person = about_users.get(int(entry.object_id))
            about = person.display_name if person else gettext("Personne effacée")
        else:
            about = entry.object_repr or (
                f"{entry.object_type} n° {entry.object_id}" if entry.object_id else ""
            )
        lines.append(
            AuditLine(
                entry=entry,
                what=describe_action(entry.action),
                by=entry.actor.display_name if entry.actor else automatic,
                for_whom=entry.on_behalf_of.display_name if entry.on_behalf_of else "",
                about=about,
            )
        )
    return lines


def staff_members(viewer: User, commune: Commune) -> list[tuple[User, list[Membership]]]:
    """People with a role other than resident here, each with those roles, in two queries."""
    ensure_capability(viewer, commune, "core.manage_roles")
    memberships: Sequence[Membership] = (
        Membership.objects.filter(commune=commune)
        .exclude(role=Role.RESIDENT)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user_id", "role")
    )
    grouped: dict[int, tuple[User, list[Membership]]] = {}
    for membership in memberships:
        grouped.setdefault(membership.user_id, (membership.user, []))[1].append(membership)
    return list(grouped.values())


def with_second_factor(people: Sequence[User]) -> set[int]:
    """Which of ``people`` have set up a second factor (an authenticator app or backup codes), in two queries."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    ids = [person.pk for person in people]
    found = set(TOTPDevice.objects.filter(user_id__in=ids).values_list("user_id", flat=True))
    return found | set(StaticDevice.objects.filter(user_id__in=ids).values_list("user_id", flat=True))
