"""Notifying people, and the person's own contact preferences.

``notify`` is the one door for every module: it writes ``Notification`` rows in the caller's transaction
and, once that commits, queues their delivery (``mairie.core.tasks.deliver_notification``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_scopes import scope

from mairie.core.acting import Actor
from mairie.core.action_labels import register_action_labels
from mairie.core.models import Commune, Notification, OutboxMessage, PushSubscription, User
from mairie.core.notifications.push import InvalidSubscription, check_subscription, push_configured
from mairie.core.notifications.quiet_hours import quiet_period_end
from mairie.core.notifications.rendering import render_message
from mairie.core.phones import is_mobile
from mairie.core.services.audit import log_action
from mairie.core.tasks import deliver_notification, enqueue_on_commit

Channel = Notification.Channel
ALL_CHANNELS: tuple[str, ...] = (Channel.IN_APP, Channel.EMAIL, Channel.SMS, Channel.PUSH)


def reachable_channels(recipient: User, *, commune: Commune | None = None) -> list[str]:
    """The channels this person has an address for (push: a device switched on in ``commune``, if given)."""
    if not recipient.is_active or recipient.erased_at is not None:
        return []
    available: list[str] = [Channel.IN_APP]
    if recipient.email:
        available.append(Channel.EMAIL)
    if recipient.phone and is_mobile(recipient.phone):
        available.append(Channel.SMS)
    if commune is not None and push_devices(recipient, commune):
        available.append(Channel.PUSH)
    return available


def push_devices(recipient: User, commune: Commune) -> list[PushSubscription]:
    """The devices where the person switched notifications on in ``commune`` (none without a push channel)."""
    if not push_configured() or recipient.pk is None:
        return []
    with scope(commune=commune):
        return list(
            PushSubscription.objects.filter(commune=commune, user=recipient).order_by("created_at", "pk")
        )


def choose_channels(
    recipient: User,
    channels: Sequence[str] | None = None,
    *,
    respect_preferences: bool = True,
    commune: Commune | None = None,
    push_reachable: bool | None = None,
) -> list[str]:
    """Where a message goes: the channels asked for (all by default) that the person can be reached on and,
    unless ``respect_preferences`` is off, that they accept. Push needs ``commune`` (or ``push_reachable``,
    when the caller has already looked): a device switched on there is the person's yes to push."""
    if channels is not None:
        unknown = set(channels) - set(ALL_CHANNELS)
        if unknown:
            raise ValueError(f"unknown notification channels: {sorted(unknown)}")
    wanted = list(dict.fromkeys(channels if channels is not None else ALL_CHANNELS))
    available = set(reachable_channels(recipient))
    if Channel.PUSH in wanted and available:
        if push_reachable is None:
            push_reachable = commune is not None and bool(push_devices(recipient, commune))
        if push_reachable:
            available.add(Channel.PUSH)
    chosen = [channel for channel in wanted if channel in available]
    if respect_preferences:
        if not recipient.notify_by_email:
            chosen = [c for c in chosen if c != Channel.EMAIL]
        if not recipient.notify_by_sms:
            chosen = [c for c in chosen if c != Channel.SMS]
    return chosen


def notify(
    *,
    recipient: User,
    commune: Commune,
    template: str,
    context: dict[str, Any] | None = None,
    urgent: bool = False,
    channels: Sequence[str] | None = None,
    respect_preferences: bool = True,
    url: str = "",
) -> list[Notification]:
    """Tells ``recipient`` something, on their channels. Call it inside your service's transaction.

    - ``template="core/login_code"`` renders ``templates/notifications/core/login_code/*.txt`` with
      ``context`` plus ``recipient``, ``commune``, ``url`` and ``absolute_url``, in the recipient's language.
    - Channels: in-app always, email and SMS when the person has the address and accepts that channel, push
      (one row per device) when they switched notifications on on a device in this commune.
      ``channels`` restricts them; ``respect_preferences=False`` ignores the person's yes/no (for a code
      they asked for).
    - Quiet hours delay non-urgent email, SMS and push to their end; ``urgent=True`` (alarms, codes) ignores them.
      In-app messages are there at once.
    - Email, SMS and push leave from the queue after the transaction commits, with retries; nothing leaves if it
      rolls back.
    """
    wants_push = channels is None or Channel.PUSH in channels
    devices = push_devices(recipient, commune) if wants_push and recipient.is_active else []
    chosen = choose_channels(
        recipient, channels, respect_preferences=respect_preferences, push_reachable=bool(devices)
    )
    if not chosen:
        return []
    rendered = render_message(template, recipient=recipient, commune=commune, context=context, url=url)
    now = timezone.now()
    outbound_after = (
        now if urgent else quiet_period_end(now, recipient.quiet_hours_start, recipient.quiet_hours_end)
    )
    bodies: dict[str, str] = {
        Channel.IN_APP: rendered.in_app,
        Channel.EMAIL: rendered.email,
        Channel.SMS: rendered.sms,
        Channel.PUSH: rendered.push,
    }
    rows = []
    for channel in chosen:
        in_app = channel == Channel.IN_APP
        for device in devices if channel == Channel.PUSH else [None]:
            rows.append(
                Notification(
                    commune=commune,
                    recipient=recipient,
                    channel=channel,
                    template=template,
                    subject=rendered.subject,
                    body=bodies[channel],
                    url=url[:500],
                    urgent=urgent,
                    status=Notification.Status.SENT if in_app else Notification.Status.PENDING,
                    created_at=now,
                    send_after=now if in_app else outbound_after,
                    sent_at=now if in_app else None,
                    push_subscription=device,
                )
            )
    Notification.objects.bulk_create(
        rows
    )  # one statement for every channel and device (keys set: PostgreSQL, SQLite)
    for row in rows:
        if row.channel != Channel.IN_APP and row.send_after <= now:
            enqueue_on_commit(deliver_notification, row.pk)
    return rows


# Reads. Callers are inside the commune's scope (a request, or a task that entered it).


def inbox_for(user: User) -> QuerySet[Notification]:
    """The person's in-app messages in the current commune, newest first."""
    return Notification.objects.filter(recipient=user, channel=Channel.IN_APP).order_by("-created_at", "-pk")


def unread_count(user: User) -> int:
    return inbox_for(user).filter(read_at__isnull=True).count()


def outbox_for(*, commune: Commune, channel: str = "", search: str = "") -> QuerySet[OutboxMessage]:
    """Emails and SMS kept by the outbox backends for ``commune`` (platform mail without commune excluded)."""
    messages = OutboxMessage.objects.filter(commune=commune)
    if channel in OutboxMessage.Channel.values:
        messages = messages.filter(channel=channel)
    if search:
        messages = messages.filter(to__icontains=search.strip())
    return messages.order_by("-created_at", "-pk")


# Writes.


@transaction.atomic
def notifications_mark_all_read(*, user: User, commune: Commune) -> int:
    """Marks the person's unread in-app messages of ``commune`` as read. Not audited: it changes nothing for
    anyone else, and the log would fill with it."""
    return Notification.objects.filter(
        commune=commune, recipient=user, channel=Channel.IN_APP, read_at__isnull=True
    ).update(read_at=timezone.now())


def preference_errors(
    *,
    user: User,
    notify_by_email: bool,
    notify_by_sms: bool,
    quiet_hours_start: time | None,
    quiet_hours_end: time | None,
    language: str,
) -> dict[str, str]:
    """What is wrong with these preferences, field by field, in words for the person."""
    errors: dict[str, str] = {}
    if notify_by_email and not user.email:
        errors["notify_by_email"] = _(
            "Aucune adresse e-mail n'est enregistrée pour ce compte : décochez cette case, ou demandez à la "
            "mairie d'ajouter votre adresse."
        )
    if notify_by_sms and not (user.phone and is_mobile(user.phone)):
        errors["notify_by_sms"] = _(
            "Aucun numéro de téléphone mobile n'est enregistré pour ce compte : décochez cette case, ou "
            "demandez à la mairie d'ajouter votre numéro."
        )
    if quiet_hours_start is not None and quiet_hours_end is None:
        errors["quiet_hours_end"] = _(
            "Indiquez aussi l'heure de fin des heures calmes, ou effacez l'heure de début."
        )
    if quiet_hours_end is not None and quiet_hours_start is None:
        errors["quiet_hours_start"] = _(
            "Indiquez aussi l'heure de début des heures calmes, ou effacez l'heure de fin."
        )
    if quiet_hours_start is not None and quiet_hours_start == quiet_hours_end:
        errors["quiet_hours_end"] = _(
            "L'heure de fin doit être différente de l'heure de début (par exemple de 21:00 à 08:00)."
        )
    if language not in dict(settings.LANGUAGES):
        errors["language"] = _("Choisissez une des langues proposées.")
    return errors


@transaction.atomic
def account_update_preferences(
    *,
    actor: Actor,
    notify_by_email: bool,
    notify_by_sms: bool,
    quiet_hours_start: time | None,
    quiet_hours_end: time | None,
    language: str,
) -> User:
    """Saves how ``actor.subject`` wants to be told things (staff may do it for them under a mandate).

    Raises ``ValidationError`` (a dict by field) and saves nothing when a value is wrong.
    """
    user = actor.subject
    values: dict[str, Any] = {
        "notify_by_email": notify_by_email,
        "notify_by_sms": notify_by_sms,
        "quiet_hours_start": quiet_hours_start,
        "quiet_hours_end": quiet_hours_end,
        "language": language,
    }
    errors = preference_errors(user=user, **values)
    if errors:
        raise ValidationError(errors)
    changed = {name: value for name, value in values.items() if getattr(user, name) != value}
    if not changed:
        return user
    for name, value in changed.items():
        setattr(user, name, value)
    user.save(update_fields=list(changed))
    log_action(
        "core.account.preferences_changed",
        commune=actor.commune,
        actor=actor.user,
        obj=user,
        on_behalf_of=user if actor.on_behalf else None,
        mandate=actor.mandate,
        data={
            name: value.strftime("%H:%M") if isinstance(value, time) else value
            for name, value in changed.items()
        },
    )
    return user


# Devices that receive push notifications.

register_action_labels(
    {
        "core.push.device_added": gettext_lazy("Notifications activées sur un appareil"),
        "core.push.device_removed": gettext_lazy("Notifications retirées d'un appareil"),
    }
)

DEVICE_LABEL_MAX_LENGTH = 100
MAX_PUSH_DEVICES = 10  # per person and commune: every message is sent once per device


def device_label(user_agent: str) -> str:
    """« Firefox sur Android »: enough for a person to tell their devices apart, nothing more kept."""
    agent = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("SamsungBrowser", "Samsung Internet"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if token in agent
        ),
        "",
    )
    system = next(
        (
            name
            for token, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "Mac"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if token in agent
        ),
        "",
    )
    if browser and system:
        return (_("%(browser)s sur %(system)s") % {"browser": browser, "system": system})[
            :DEVICE_LABEL_MAX_LENGTH
        ]
    return (browser or system or _("Appareil inconnu"))[:DEVICE_LABEL_MAX_LENGTH]


def push_devices_of(user: User) -> QuerySet[PushSubscription]:
    """The person's devices in the current commune (call inside its scope), oldest first."""
    return PushSubscription.objects.filter(user=user).order_by("created_at", "pk")


@transaction.atomic
def push_subscribe(*, user: User, commune: Commune, data: object, user_agent: str = "") -> PushSubscription:
    """Records the browser subscription ``data`` (``PushSubscription.toJSON()``) for ``user`` in ``commune``.

    The same browser subscribing again updates its keys; a browser another person had switched on (a shared
    tablet) now belongs to ``user``: messages follow whoever switched it on last. Raises
    ``InvalidSubscription`` (with the reason, for the person) and saves nothing when ``data`` is wrong.
    """
    keys = check_subscription(data)
    if not push_configured():
        raise InvalidSubscription(_("Les notifications sur les appareils ne sont pas proposées ici."))
    label = device_label(user_agent)
    existing = (
        PushSubscription.objects.select_for_update().filter(commune=commune, endpoint=keys.endpoint).first()
    )
    if existing is not None:
        previous_user_id = existing.user_id
        existing.user = user
        existing.p256dh, existing.auth, existing.label = keys.p256dh, keys.auth, label
        existing.save(update_fields=["user", "p256dh", "auth", "label"])
        if previous_user_id == user.pk:
            return existing
        device = existing
    else:
        if PushSubscription.objects.filter(commune=commune, user=user).count() >= MAX_PUSH_DEVICES:
            raise InvalidSubscription(
                _(
                    "Vous recevez déjà les notifications sur %(count)d appareils : retirez-en un de la liste "
                    "avant d'en ajouter un autre."
                )
                % {"count": MAX_PUSH_DEVICES}
            )
        device = PushSubscription.objects.create(
            commune=commune,
            user=user,
            endpoint=keys.endpoint,
            p256dh=keys.p256dh,
            auth=keys.auth,
            label=label,
        )
    log_action("core.push.device_added", commune=commune, actor=user, obj=device, data={"appareil": label})
    return device


@transaction.atomic
def push_unsubscribe(*, user: User, commune: Commune, device_id: int) -> bool:
    """Removes one of ``user``'s devices. False when there is no such device of theirs (nothing changes)."""
    device = PushSubscription.objects.filter(commune=commune, user=user, pk=device_id).first()
    if device is None:
        return False
    label = device.label
    device.delete()
    log_action(
        "core.push.device_removed",
        commune=commune,
        actor=user,
        obj=user,
        data={"appareil": label},
    )
    return True
