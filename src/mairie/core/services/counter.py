"""Accounts made and looked after at the town-hall counter, for residents who may have no email nor phone.

The temporary password is returned once, to be printed on a "fiche de connexion"; only its hash is kept.
"""

from __future__ import annotations

import secrets

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django_scopes import scopes_disabled

from mairie.core.models import Commune, Membership, Role, User
from mairie.core.permissions import ensure_capability
from mairie.core.services.accounts import account_register
from mairie.core.services.audit import log_action

# Short, common French words without accents or look-alike letters, easy to read aloud and to type.
# fmt: off
WORDS = (
    "abeille", "arbre", "atelier", "avion", "balcon", "bateau", "biscuit", "bougie", "bouton", "cabane",
    "cactus", "camion", "canard", "carte", "castor", "cerise", "chaise", "chemin", "cheval", "citron",
    "clocher", "colline", "comete", "coquille", "corde", "crayon", "dauphin", "domino", "ecureuil",
    "etoile", "falaise", "fenetre", "feuille", "figue", "flute", "fontaine", "fraise", "fromage", "fusee",
    "gateau", "girafe", "glace", "gomme", "grenier", "grenouille", "guitare", "hibou", "horloge", "jardin",
    "jonquille", "kiwi", "lampe", "lapin", "lavande", "levure", "lilas", "loutre", "lune", "marche",
    "melon", "merle", "miel", "montagne", "mouette", "moulin", "muguet", "navet", "nuage", "olive",
    "orange", "ours", "panier", "papillon", "parapluie", "pelouse", "phare", "piano", "pigeon", "pirate",
    "plage", "poire", "pomme", "pont", "potiron", "prairie", "puits", "radis", "raisin", "renard", "requin",
    "riviere", "robot", "rocher", "rose", "ruche", "sable", "sapin", "sardine", "savon", "sentier",
    "soleil", "sucre", "tambour", "tapis", "tasse", "theiere", "tigre", "tomate", "tortue", "train",
    "tulipe", "valise", "velo", "violon", "voilier", "volcan", "zebre",
)
# fmt: on


def temporary_password() -> str:
    """Three words and a number, e.g. ``pomme-tulipe-phare-47``: easy to read on paper and to type."""
    words = [secrets.choice(WORDS) for _ in range(3)]
    return "-".join([*words, str(secrets.randbelow(90) + 10)])


@transaction.atomic
def counter_account_create(
    *,
    commune: Commune,
    by: User,
    first_name: str,
    last_name: str,
    email: str | None = None,
    phone: str | None = None,
    password: str | None = None,
) -> tuple[User, str | None]:
    """An account made by staff for a resident. Returns the person and the temporary password made for them
    (``None`` when staff typed a password chosen by the resident)."""
    ensure_capability(by, commune, "core.manage_residents")
    temporary = None if password else temporary_password()
    user = account_register(
        commune=commune,
        first_name=first_name,
        last_name=last_name,
        email=email or None,
        phone=phone or None,
        password=password or temporary,
        created_by=by,
    )
    if temporary:  # staff saw it: the person chooses their own at first sign-in
        user.must_change_password = True
        user.save(update_fields=["must_change_password"])
    return user, temporary


def counter_reset_allowed(user: User) -> bool:
    """Only for residents and relatives: a counter reset must never hand a staff account to someone else."""
    if user.is_superuser or user.is_staff or user.erased_at is not None:
        return False
    with scopes_disabled():  # a person may hold a staff role in another commune
        roles = set(Membership.objects.filter(user=user).values_list("role", flat=True))
    return roles <= {Role.RESIDENT, Role.RELATIVE}


@transaction.atomic
def counter_password_reset(*, commune: Commune, by: User, user: User) -> str:
    """A new temporary password for a resident of this commune, to print; the old one stops working."""
    ensure_capability(by, commune, "core.manage_residents")
    if not Membership.objects.filter(commune=commune, user=user).exists():
        raise User.DoesNotExist("not a member of this commune")
    if not counter_reset_allowed(user):
        raise PermissionDenied("staff accounts renew their password themselves")
    password = temporary_password()
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    log_action(
        "core.account.password_reset_at_counter", commune=commune, actor=by, obj=user, on_behalf_of=user
    )
    return password
