"""Walks every URL of the site for the security tests: which views exist, what each requires, how to call it.

The role × URL matrix, the commune-isolation walk and the bad-input walk all start here, so that a page added
by anyone is tested without anyone listing it:

- ``endpoints()`` reads every URL pattern from the resolver (the platform operators' ``/admin/`` aside);
- ``build_world(commune)`` gives a commune one person per role and one object of each kind;
- ``Endpoint.url_for(world)`` fills a pattern's parameters with that commune's objects (``pk``, ``user_id``,
  ``mandate_id``...), or says why it cannot;
- ``fetch()`` makes one request in a savepoint rolled back afterwards: requests do not depend on each other;
- ``parse_forms()`` and the ``*_data()`` helpers read the forms of a page and fill them;
- ``snapshot()`` / ``diff()`` compare every row of the project's models before and after.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.apps import apps
from django.db import connection, models, transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern
from django.utils import timezone
from django_scopes import scopes_disabled

from mairie.core.models import (
    Commune,
    ErasureRequest,
    LoginCode,
    Mandate,
    Membership,
    Notification,
    OutboxMessage,
    Role,
    User,
)
from mairie.core.permissions import CAPABILITIES, second_factor_roles
from mairie.core.services.audit import log_action
from tests.factories import make_user

BACKEND = "mairie.core.auth_backends.LoginBackend"
ROLES: tuple[str, ...] = tuple(Role.values)

# ------------------------------------------------------------------------------------------------
# URL patterns
# ------------------------------------------------------------------------------------------------

_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")

# Parameter names that say which object they take. ``pk``/``id`` and unknown ``*_id`` names are guessed from
# the words of the route, the URL name and the view (``gestion/mandats/<int:pk>/`` → a mandate).
PARAM_KINDS: dict[str, str] = {
    "user_id": "person",
    "person_id": "person",
    "resident_id": "person",
    "member_id": "person",
    "recipient_id": "person",
    "account_id": "person",
    "mandate_id": "mandate",
    "request_id": "erasure_request",
    "erasure_id": "erasure_request",
    "erasure_request_id": "erasure_request",
    "notification_id": "notification",
    "message_id": "outbox_message",
    "outbox_id": "outbox_message",
    "outbox_message_id": "outbox_message",
    "entry_id": "audit_entry",
    "audit_id": "audit_entry",
    "audit_entry_id": "audit_entry",
    "membership_id": "membership",
    "host_id": "commune_host",
    "code_id": "login_code",
}
# Secrets carried in links (sign-in links, password reset): not a commune's object; a wrong one is refused.
TOKEN_PARAMS = frozenset({"token", "secret", "key", "code", "uidb64", "link", "signature"})
KIND_HINTS: list[tuple[str, str]] = [
    ("mandat", "mandate"),
    ("mandate", "mandate"),
    ("effacement", "erasure_request"),
    ("erasure", "erasure_request"),
    ("suppression", "erasure_request"),
    ("notification", "notification"),
    ("outbox", "outbox_message"),
    ("envois", "outbox_message"),
    ("envoye", "outbox_message"),
    ("sms", "outbox_message"),
    ("journal", "audit_entry"),
    ("audit", "audit_entry"),
    ("membership", "membership"),
    ("role", "membership"),
    ("habitant", "person"),
    ("resident", "person"),
    ("personne", "person"),
    ("compte", "person"),
    ("user", "person"),
    ("person", "person"),
]

# Modules add their own objects to the walk without editing this file: a ``tests/<app>/walk.py`` (imported
# by ``build_world``) calls ``register_world_builder(fn)``, where ``fn(world)`` creates that commune's objects
# and returns them by kind ({"workshop": w, ...}), and adds to ``PARAM_KINDS`` ("workshop_id": "workshop")
# and, for ``<int:pk>`` routes, to ``KIND_HINTS`` (("ateliers", "workshop"), put first with insert(0, ...)).
WORLD_BUILDERS: list[Callable[[CommuneWorld], Mapping[str, models.Model]]] = []


def register_world_builder(
    builder: Callable[[CommuneWorld], Mapping[str, models.Model]],
) -> Callable[[CommuneWorld], Mapping[str, models.Model]]:
    if builder not in WORLD_BUILDERS:
        WORLD_BUILDERS.append(builder)
    return builder


def _load_module_walks() -> None:
    for app in apps.get_app_configs():
        if not app.name.startswith("mairie."):
            continue
        name = f"tests.{app.label}.walk"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name not in (name, f"tests.{app.label}"):
                raise


class Unmappable(Exception):
    """A URL parameter the walk cannot fill with a known object."""


@dataclass(frozen=True)
class Endpoint:
    route: str  # "gestion/mandats/<int:pk>/", as in the URLconf, without the leading slash
    name: str | None  # "core:mandate_detail"
    callback: Callable[..., HttpResponse]
    params: tuple[tuple[str, str], ...]  # (name, converter)
    regex: bool = False

    @property
    def view_path(self) -> str:
        view = getattr(self.callback, "view_class", self.callback)
        return f"{view.__module__}.{getattr(view, '__qualname__', view.__class__.__name__)}"

    @property
    def app(self) -> str:
        parts = self.view_path.split(".")
        return parts[1] if parts[0] == "mairie" and len(parts) > 2 else parts[0]

    @property
    def capability(self) -> str | None:
        found = getattr(self.callback, "required_capability", None)
        if found is None and hasattr(self.callback, "view_class"):
            found = getattr(self.callback.view_class, "required_capability", None)
        return found

    @property
    def label(self) -> str:
        return "/" + self.route

    def kind_of(self, param: str) -> str:
        if param in PARAM_KINDS:
            return PARAM_KINDS[param]
        if param in TOKEN_PARAMS:
            return "token"
        # The words nearest the parameter speak first: gestion/habitants/<id>/mandats/<pk>/ → pk is a mandate.
        start = next(m.start() for m in _PARAM.finditer(self.route) if m["name"] == param)
        segments = [s for s in self.route[:start].lower().split("/") if s and "<" not in s]
        texts = [param.lower(), *reversed(segments), f"{self.name or ''} {self.view_path}".lower()]
        for text in texts:
            for hint, kind in KIND_HINTS:
                if hint in text:
                    return kind
        raise Unmappable(f"parameter {param!r}: no known object kind")

    def url(self, values: Mapping[str, object]) -> str:
        if self.regex:
            if not self.name:
                raise Unmappable("unnamed regex pattern")
            try:
                return reverse(self.name, kwargs={p: values[p] for p, _ in self.params})
            except NoReverseMatch as exc:
                raise Unmappable(str(exc)) from exc

        def fill(match: re.Match[str]) -> str:
            return str(values[match["name"]])

        return "/" + _PARAM.sub(fill, self.route)

    def values_for(self, worlds: Mapping[str, CommuneWorld]) -> dict[str, object]:
        """``worlds`` maps each parameter (or ``"*"``) to the commune whose object fills it."""
        values: dict[str, object] = {}
        for param, converter in self.params:
            world = worlds.get(param) or worlds["*"]
            kind = self.kind_of(param)
            if kind == "token":
                values[param] = "pas-un-vrai-jeton" if converter in ("str", "slug", "path") else 0
                continue
            obj = world.objects.get(kind)
            if obj is None:
                raise Unmappable(f"parameter {param!r}: no {kind} in the test world")
            values[param] = world_value(obj, converter)
        return values

    def url_for(self, world: CommuneWorld, **others: CommuneWorld) -> str:
        return self.url(self.values_for({"*": world, **others}))

    @property
    def object_params(self) -> tuple[str, ...]:
        out = []
        for param, _ in self.params:
            try:
                if self.kind_of(param) != "token":
                    out.append(param)
            except Unmappable:
                out.append(param)
        return tuple(out)


def world_value(obj: models.Model, converter: str) -> object:
    if converter == "uuid":
        for attr in ("uuid", "public_id", "token"):
            if hasattr(obj, attr):
                return getattr(obj, attr)
        raise Unmappable(f"{obj._meta.label} has no uuid field")
    if converter == "slug" and hasattr(obj, "slug"):
        return obj.slug
    return obj.pk


def _is_admin(resolver: URLResolver) -> bool:
    return resolver.app_name == "admin" or str(resolver.pattern).lstrip("^").startswith("admin/")


def _walk(
    patterns: list[URLPattern | URLResolver], prefix: str, namespace: str | None, regex: bool
) -> Iterator[Endpoint]:
    for entry in patterns:
        is_regex = regex or isinstance(entry.pattern, RegexPattern)
        piece = str(entry.pattern)
        if isinstance(entry.pattern, RegexPattern):
            piece = piece.lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            if _is_admin(entry):
                continue
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + piece, ns, is_regex)
            continue
        route = prefix + piece
        if is_regex:
            params = tuple((name, "str") for name in entry.pattern.regex.groupindex)
        else:
            params = tuple((m["name"], m["converter"] or "str") for m in _PARAM.finditer(route))
        name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
        yield Endpoint(route=route, name=name, callback=entry.callback, params=params, regex=is_regex)


def endpoints(app: str | None = None) -> list[Endpoint]:
    """Every URL pattern of the site except the platform operators' Django admin (or those of one app)."""
    found = list(_walk(get_resolver().url_patterns, "", None, False))
    return found if app is None else [e for e in found if e.app == app]


def endpoint_apps() -> list[str]:
    """The apps whose views the site serves ("core", "booking"...): long walks run one test per app."""
    return sorted({e.app for e in endpoints()})


def capability_holders(capability: str) -> frozenset[str]:
    if capability == "public":
        return frozenset(ROLES)
    if capability == "login":
        return frozenset(ROLES)
    return CAPABILITIES[capability]


# ------------------------------------------------------------------------------------------------
# A commune full of people and objects
# ------------------------------------------------------------------------------------------------


@dataclass
class CommuneWorld:
    commune: Commune
    host: str
    users: dict[str, User]  # role → a person holding that role (and resident, as everyone)
    objects: dict[str, models.Model] = field(default_factory=dict)  # kind → one object of the commune

    @property
    def resident(self) -> User:
        return self.objects["person"]  # type: ignore[return-value]


def build_world(commune: Commune, *, surname: str) -> CommuneWorld:
    """One person per role, a resident with an email and a phone, one object of each kind the core owns."""
    now = timezone.now()
    from mairie.core.modules import MODULES

    commune.enabled_modules = sorted(MODULES)  # every service switched on: all their pages are walked
    commune.save(update_fields=["enabled_modules"])
    users = {role: make_user(commune, role, last_name=f"{surname}-{role}") for role in ROLES}
    n = commune.pk
    resident = make_user(
        commune,
        first_name="Ysolde",
        last_name=surname,
        email=f"ysolde.{surname.lower()}@example.org",
        phone=f"+3361234{n % 10_000:04d}",  # PostgreSQL keys grow across tests
    )
    leaving = make_user(commune, first_name="Théodore", last_name=f"{surname}-Départ")
    with scopes_disabled():
        mandate = Mandate.objects.create(
            commune=commune,
            agent=users[Role.AGENT],
            resident=resident,
            purpose="Inscription à un atelier",
            consent_method=Mandate.ConsentMethod.IN_PERSON,
            expires_at=now + timedelta(days=30),
        )
        log_action(
            "core.mandate.started", commune=commune, actor=users[Role.AGENT], obj=mandate, mandate=mandate
        )
        erasure = ErasureRequest.objects.create(commune=commune, user=leaving, reason="Je déménage.")
        notification = Notification.objects.create(
            commune=commune,
            recipient=resident,
            channel=Notification.Channel.IN_APP,
            template="core/test",
            subject=f"Bienvenue à {commune.name}",
            body="Votre compte est prêt.",
        )
        outbox = OutboxMessage.objects.create(
            channel=OutboxMessage.Channel.SMS,
            commune=commune,
            to=resident.phone or "",
            subject="",
            body=f"Votre code pour {commune.name} : 123456",
        )
        entry = log_action("core.test.checked", commune=commune, actor=users[Role.ADMIN], obj=resident)
        login_code = LoginCode.objects.create(
            user=resident,
            purpose=LoginCode.Purpose.LOGIN,
            channel=LoginCode.Channel.SMS,
            code_hash="pas-un-vrai-code",
            link_secret_hash="pas-un-vrai-secret",
            expires_at=now + timedelta(minutes=10),
        )
        membership = Membership.objects.get(commune=commune, user=users[Role.MEDIATOR], role=Role.MEDIATOR)
        host = commune.hosts.first()
    users["resident"] = users[Role.RESIDENT]
    world = CommuneWorld(
        commune=commune,
        host=host.host if host else "testserver",
        users=users,
        objects={
            "person": resident,
            "leaving_person": leaving,
            "mandate": mandate,
            "erasure_request": erasure,
            "notification": notification,
            "outbox_message": outbox,
            "audit_entry": entry,
            "membership": membership,
            "commune_host": host,  # type: ignore[dict-item]
            "login_code": login_code,
        },
    )
    _load_module_walks()
    for builder in WORLD_BUILDERS:
        with scopes_disabled():
            world.objects.update(builder(world))
    return world


def world_people(world: CommuneWorld) -> list[User]:
    return [*world.users.values(), world.objects["person"], world.objects["leaving_person"]]  # type: ignore[list-item]


# ------------------------------------------------------------------------------------------------
# Clients and requests
# ------------------------------------------------------------------------------------------------


def verify_second_factor(client: Client, user: User) -> None:
    """Gives a signed-in client a confirmed TOTP device and marks its session verified, as django_otp does."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="téléphone", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def asks_second_factor(user: User) -> bool:
    """Whether the site asks ``user`` for a second factor somewhere: platform operators, and the roles that are
    sensitive or hold a sensitive capability."""
    with scopes_disabled():
        return (
            user.is_superuser or Membership.objects.filter(user=user, role__in=second_factor_roles()).exists()
        )


def client_as(host: str, user: User | None, *, verified: bool = True, csrf: bool = False) -> Client:
    """A test client on ``host``, signed in as ``user``, second factor done if their roles need it."""
    client = Client(HTTP_HOST=host, raise_request_exception=False, enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user, backend=BACKEND)
        if verified and asks_second_factor(user):
            verify_second_factor(client, user)
    return client


def login_path() -> str:
    return reverse("core:login")


def two_factor_path() -> str | None:
    try:
        return reverse("core:two_factor")
    except NoReverseMatch:
        return None


def outcome(response: HttpResponse) -> str:
    """A short word for a response: ok, login, 2fa, redirect, 403, 404, 405, 500..."""
    status = response.status_code
    if 300 <= status < 400:
        location = urlsplit(response.get("Location", "")).path
        if location.startswith(login_path()):
            return "login"
        two_factor = two_factor_path()
        if two_factor and location.startswith(two_factor):
            return "2fa"
        return "redirect"
    if 200 <= status < 300:
        return "ok"
    return str(status)


def fetch(client: Client, method: str, url: str, data: Mapping[str, Any] | None = None) -> HttpResponse:
    """One request whose database writes are rolled back afterwards (the response is kept)."""
    cookies = copy.deepcopy(client.cookies)  # a sign-out or a new language must not outlive the request
    sid = transaction.savepoint()
    try:
        if method == "GET":
            return client.get(url, data or {})
        return client.post(url, data or {})
    finally:
        transaction.savepoint_rollback(sid)
        client.cookies = cookies


def fetch_and_diff(
    client: Client,
    method: str,
    url: str,
    data: Mapping[str, Any] | None = None,
    *,
    follow: bool = False,
    before: Snapshot | None = None,
) -> tuple[HttpResponse, list[Change]]:
    """Like ``fetch``, also returning the rows the request changed before they are rolled back.

    Rows are compared only when the request wrote to one of the project's tables (sessions aside), which
    keeps long walks fast; ``before`` may give the ``snapshot()`` every request starts from. With
    ``follow``, a redirect is followed as a browser would (``response.followed`` is the page it leads to);
    the rows compared are those the request itself changed.
    """
    cookies = copy.deepcopy(client.cookies)
    tables = {m._meta.db_table.lower() for m in tracked_models()}
    writes: list[str] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statement = sql.lstrip().lower()
        if statement.startswith(("insert", "update", "delete", "replace")) and any(
            t in statement for t in tables
        ):
            writes.append(statement)
        return execute(sql, params, many, context)

    after: Snapshot | None = None
    sid = transaction.savepoint()
    try:
        with connection.execute_wrapper(record):
            response = client.get(url, data or {}) if method == "GET" else client.post(url, data or {})
        if writes:
            after = snapshot()
        response.followed = None  # type: ignore[attr-defined]
        if follow and 300 <= response.status_code < 400:
            response.followed = client.get(response["Location"])  # type: ignore[attr-defined]
    finally:
        transaction.savepoint_rollback(sid)
        client.cookies = cookies
    # Rolled back: the database is as it was before the request.
    return response, diff(before or snapshot(), after) if after is not None else []


def body_of(response: HttpResponse) -> str:
    """The text of a response, streamed ones (CSV exports) included."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")  # type: ignore[attr-defined]
    return response.content.decode(errors="replace")


def error_of(response: HttpResponse) -> str:
    exc = getattr(response, "exc_info", None)
    if exc:
        return f"{exc[0].__name__}: {exc[1]}"
    return ""


# ------------------------------------------------------------------------------------------------
# Rows of the database
# ------------------------------------------------------------------------------------------------

# Columns that change on any sign-in and say nothing about what a request did to the data.
VOLATILE = {"core.user": {"last_login"}}

Row = tuple[tuple[str, Any], ...]
Snapshot = dict[str, dict[Any, Row]]


@dataclass(frozen=True)
class Change:
    model: str
    pk: Any
    before: Row | None
    after: Row | None

    def __str__(self) -> str:
        if self.before is None:
            return f"{self.model} #{self.pk} created: {dict(self.after or ())}"
        if self.after is None:
            return f"{self.model} #{self.pk} deleted"
        changed = {k: (dict(self.before)[k], v) for k, v in self.after if dict(self.before).get(k) != v}
        return f"{self.model} #{self.pk} changed: {changed}"

    def references(self) -> set[tuple[str, Any]]:
        refs = {(self.model, self.pk)}
        for row in (self.before, self.after):
            for key, value in row or ():
                if key.startswith("→") and value is not None:
                    refs.add((key[1:].split("|")[1], value))
        return refs


def tracked_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m.__module__.startswith("mairie.")]


def _row(model: type[models.Model], values: dict[str, Any]) -> Row:
    skip = VOLATILE.get(model._meta.label_lower, set())
    out = []
    for f in model._meta.concrete_fields:
        if f.name in skip:
            continue
        value = values[f.attname]
        if f.is_relation and f.related_model is not None:
            out.append((f"→{f.name}|{f.related_model._meta.label_lower}", value))
        else:
            out.append((f.name, value))
    return tuple(out)


def snapshot() -> Snapshot:
    result: Snapshot = {}
    with scopes_disabled():
        for model in tracked_models():
            fields = [f.attname for f in model._meta.concrete_fields]
            result[model._meta.label_lower] = {
                values[model._meta.pk.attname]: _row(model, values)  # type: ignore[union-attr]
                for values in model._base_manager.values(*fields)
            }
    return result


def diff(before: Snapshot, after: Snapshot) -> list[Change]:
    changes = []
    for label in sorted(set(before) | set(after)):
        old, new = before.get(label, {}), after.get(label, {})
        for pk in sorted(set(old) | set(new), key=str):
            if old.get(pk) != new.get(pk):
                changes.append(Change(label, pk, old.get(pk), new.get(pk)))
    return changes


def owned_rows(world: CommuneWorld) -> set[tuple[str, Any]]:
    """Every row that belongs to the commune: itself, its people, rows pointing at those (to a fixpoint)."""
    owned: set[tuple[str, Any]] = {("core.commune", world.commune.pk)}
    owned |= {("core.user", u.pk) for u in world_people(world)}
    snap = snapshot()
    while True:
        grown = set(owned)
        for label, rows in snap.items():
            for pk, row in rows.items():
                if (label, pk) in grown:
                    continue
                for key, value in row:
                    if key.startswith("→") and (key[1:].split("|")[1], value) in owned:
                        grown.add((label, pk))
                        break
        if grown == owned:
            return owned
        owned = grown


# ------------------------------------------------------------------------------------------------
# Forms in pages
# ------------------------------------------------------------------------------------------------

TEXT_TYPES = {
    "text",
    "search",
    "password",
    "email",
    "tel",
    "url",
    "number",
    "date",
    "time",
    "datetime-local",
    "month",
    "week",
    "color",
}
GARBAGE_BY_TYPE = {
    "email": "pas-une-adresse@",
    "tel": "abc-def-ghi",
    "url": "pas une adresse web",
    "number": "douze",
    "date": "2025-02-31",
    "time": "25:61",
    "datetime-local": "demain matin",
    "month": "treizième mois",
    "week": "semaine 99",
    "color": "#zzzzzz",
}
LONG = "x" * 10_000


@dataclass
class FormField:
    tag: str  # input, select, textarea, button
    type: str
    name: str
    value: str
    required: bool = False
    maxlength: int | None = None
    checked: bool = False
    multiple: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)  # (value, selected)
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class PageForm:
    page: str
    action: str
    method: str
    fields: list[FormField]
    enctype: str = ""

    @property
    def typed_fields(self) -> list[FormField]:
        """Fields a person types or chooses in (not hidden values, not buttons, not check boxes)."""
        return [
            f
            for f in self.fields
            if (f.tag == "input" and f.type in TEXT_TYPES) or f.tag in ("textarea", "select")
        ]

    @property
    def signature(self) -> tuple[str, tuple[str, ...]]:
        return (urlsplit(self.action).path, tuple(sorted({f.name for f in self.fields if f.tag != "button"})))


class _FormParser(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[PageForm] = []
        self._form: PageForm | None = None
        self._select: FormField | None = None
        self._option: list[str] | None = None
        self._textarea: FormField | None = None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: (v if v is not None else "") for k, v in attrs_list}
        if tag == "form":
            self._form = PageForm(
                page=self.page,
                action=urljoin(self.page, attrs.get("action") or self.page),
                method=(attrs.get("method") or "get").lower(),
                fields=[],
                enctype=attrs.get("enctype", ""),
            )
            self.forms.append(self._form)
            return
        if self._form is None or tag not in ("input", "select", "textarea", "option", "button"):
            return
        if tag == "option" and self._select is not None:
            self._option = [attrs.get("value", ""), "selected" in attrs]  # type: ignore[list-item]
            if "value" in attrs:
                self._select.options.append((attrs["value"], "selected" in attrs))
                self._option = None
            return
        name = attrs.get("name")
        if not name:
            return
        maxlength = attrs.get("maxlength")
        item = FormField(
            tag=tag,
            type=(attrs.get("type") or ("submit" if tag == "button" else "text")).lower(),
            name=name,
            value=attrs.get("value", ""),
            required="required" in attrs,
            maxlength=int(maxlength) if maxlength and maxlength.isdigit() else None,
            checked="checked" in attrs,
            multiple="multiple" in attrs,
            attrs=attrs,
        )
        self._form.fields.append(item)
        if tag == "select":
            self._select = item
        elif tag == "textarea":
            self._textarea = item

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data
        if self._option is not None and self._select is not None:
            self._select.options.append((data.strip(), bool(self._option[1])))
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def parse_forms(html: str, page: str) -> list[PageForm]:
    parser = _FormParser(page)
    parser.feed(html)
    return parser.forms


def invalid_fields(html: str, page: str, action: str) -> set[str]:
    """Names of the fields marked ``aria-invalid="true"`` in the page's forms that post to ``action``."""
    marked = set()
    for form in parse_forms(html, page):
        if urlsplit(form.action).path != urlsplit(action).path:
            continue
        marked |= {f.name for f in form.fields if f.attrs.get("aria-invalid") == "true"}
    return marked


def _selected(f: FormField) -> list[str]:
    chosen = [v for v, selected in f.options if selected]
    if chosen:
        return chosen
    non_empty = [v for v, _ in f.options if v]
    return non_empty[:1] if not f.multiple else []


def clicked_button(form: PageForm) -> dict[str, str]:
    """The name and value of the first named submit button: a browser sends the one clicked."""
    for f in form.fields:
        if f.type == "submit" and f.tag in ("button", "input"):
            return {f.name: f.value}
    return {}


def default_data(form: PageForm) -> dict[str, Any]:
    """What the browser would send if the person changed nothing and clicked the first button."""
    data: dict[str, Any] = dict(clicked_button(form))
    for f in form.fields:
        if f.tag == "button" or f.type in ("submit", "button", "reset", "image", "file"):
            continue
        if f.type in ("checkbox", "radio"):
            if f.checked:
                data.setdefault(f.name, []).append(f.value or "on")
            continue
        if f.tag == "select":
            data[f.name] = _selected(f)
            continue
        data[f.name] = f.value
    return {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in data.items()}


PLAUSIBLE_BY_TYPE = {
    "email": "nouvelle.personne@example.org",
    "tel": "06 98 76 54 32",
    "url": "https://www.example.org/",
    "number": "1",
    "time": "10:30",
    "color": "#1d4f91",
    "password": "une phrase de passe solide 2025",
}


def plausible_data(form: PageForm) -> dict[str, Any]:
    """The defaults, with every empty typed field filled with a value a person might really type."""
    data = default_data(form)
    tomorrow = timezone.localdate() + timedelta(days=1)
    for f in form.typed_fields:
        if data.get(f.name) not in ("", None, []):
            continue
        if f.tag == "select":
            continue
        if f.type == "date":
            data[f.name] = tomorrow.isoformat()
        elif f.type == "datetime-local":
            data[f.name] = f"{tomorrow.isoformat()}T10:30"
        else:
            value = PLAUSIBLE_BY_TYPE.get(f.type, "Texte d'essai")
            data[f.name] = value[: f.maxlength] if f.maxlength else value
    for f in form.fields:
        if f.type == "radio" and f.name not in data:
            data[f.name] = f.value
    return data


def empty_data(form: PageForm) -> dict[str, Any]:
    """Only the hidden values (CSRF token, next) and the button: every field empty, every box unticked."""
    data = {f.name: f.value for f in form.fields if f.tag == "input" and f.type == "hidden"}
    data.update(clicked_button(form))
    for f in form.typed_fields:
        data[f.name] = ""
    return data


def garbage_data(form: PageForm, *, signed_in: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Wrong values in every field; returns the data and the fields whose value no form could accept.

    For a signed-in person, "your current password" filled with nonsense is wrong too (when signing in,
    the form rightly does not say which of the identifier or the password was wrong).
    """
    data = default_data(form)
    certain: list[str] = []
    for f in form.typed_fields:
        if f.tag == "select":
            data[f.name] = "valeur-inconnue-999999"
            certain.append(f.name)
        elif f.type in GARBAGE_BY_TYPE:
            data[f.name] = GARBAGE_BY_TYPE[f.type]
            certain.append(f.name)
        else:
            data[f.name] = LONG
            current_password = signed_in and f.attrs.get("autocomplete") == "current-password"
            if f.maxlength is not None or current_password:
                certain.append(f.name)
    for f in form.fields:
        if f.type == "radio":
            data[f.name] = "valeur-inconnue-999999"
            if f.name not in certain:
                certain.append(f.name)
    return data, certain


def id_fields(form: PageForm) -> list[FormField]:
    """Fields that carry an object's id: selects of numbers, hidden numbers, ``*_id`` or number inputs."""
    found = []
    for f in form.fields:
        if f.tag == "button" or f.name == "csrfmiddlewaretoken":
            continue
        numeric_select = f.tag == "select" and any(v.isdigit() for v, _ in f.options)
        hidden_number = f.tag == "input" and f.type == "hidden" and f.value.isdigit()
        named_id = f.tag == "input" and (f.name.endswith("_id") or f.name in ("pk", "id"))
        if numeric_select or hidden_number or named_id:
            found.append(f)
    return found


def foreign_ids(world: CommuneWorld) -> list[int]:
    values = {int(o.pk) for o in world.objects.values() if o is not None}
    values |= {u.pk for u in world_people(world)}
    return sorted(values)
