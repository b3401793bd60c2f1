"""Web Push: VAPID keys, message encryption and the HTTP request to the browser's push service.

- Encryption is RFC 8291 (``aes128gcm`` content coding of RFC 8188, one record): an ephemeral P-256 key
  agreed with the browser's ``p256dh`` key, mixed with its ``auth`` secret through HKDF-SHA-256.
- The request is signed with VAPID (RFC 8292): an ES256 JWT whose audience is the push service's origin,
  with our public key in the ``Authorization: vapid t=…, k=…`` header.
- ``send_push`` returns or raises: ``PushGone`` (404/410: the browser dropped this subscription),
  ``PushError`` (``permanent`` when trying again cannot help) or a network error (tried again later).

Keys come from ``MAIRIE_VAPID_*``. With none set and ``DEBUG`` on (the demo), a key pair is made once and
kept in ``settings.PUSH_VAPID_DEV_KEY_FILE`` so ``make run`` needs no setup. Otherwise there is no push
channel at all: ``push_configured()`` is false and nobody is offered it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
import time
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

RECORD_SIZE = 4096
# What fits in one 4096-byte record (RFC 8291 §4: push services accept at least 4096 bytes of body):
# 4096 - 86 bytes of header - 16 of tag - 1 delimiter.
MAX_PAYLOAD = 3993
JWT_LIFETIME_SECONDS = 12 * 3600  # RFC 8292 §2: at most 24 hours
TTL_URGENT = 24 * 3600  # an alarm still matters if the phone comes back within a day
TTL_NORMAL = 7 * 24 * 3600


class PushError(Exception):
    """The push service did not take the message. ``permanent``: trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class PushGone(PushError):
    """404 or 410: the browser unsubscribed, or the subscription expired. Forget it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class InvalidSubscription(ValueError):
    """What a browser sent us is not a usable subscription; the message says why, for the person."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# Keys


@dataclass(frozen=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey
    public_key_b64: str  # the uncompressed point, base64url: the browser's applicationServerKey
    subject: str


def public_key_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def private_key_from_b64(text: str) -> ec.EllipticCurvePrivateKey:
    """The 32-byte private scalar in base64url, as ``web-push generate-vapid-keys`` prints it."""
    raw = b64url_decode(text)
    if len(raw) != 32:
        raise ValueError("a VAPID private key is 32 bytes, base64url-encoded")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def private_key_to_b64(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url_encode(key.private_numbers().private_value.to_bytes(32, "big"))


def generate_vapid_pair() -> tuple[str, str]:
    """A new (public, private) pair in base64url, for MAIRIE_VAPID_PUBLIC_KEY and MAIRIE_VAPID_PRIVATE_KEY."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url_encode(public_key_bytes(key.public_key())), private_key_to_b64(key)


@lru_cache(maxsize=2)
def _dev_private_key(path: Path) -> str:
    """The demo's key: read from ``path``, or made once and written there (readable by us only)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    _public, private = generate_vapid_pair()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(private + "\n")
    return private


def check_vapid_pair(private_b64: str, public_b64: str = "") -> tuple[ec.EllipticCurvePrivateKey, str]:
    """The private key and its public key (base64url); raises ``ImproperlyConfigured`` saying what is wrong."""
    try:
        private_key = private_key_from_b64(private_b64)
    except (ValueError, binascii.Error) as error:
        raise ImproperlyConfigured(f"MAIRIE_VAPID_PRIVATE_KEY is not a usable key: {error}") from error
    derived = b64url_encode(public_key_bytes(private_key.public_key()))
    if public_b64 and public_b64.strip() != derived:
        raise ImproperlyConfigured("MAIRIE_VAPID_PUBLIC_KEY does not belong to MAIRIE_VAPID_PRIVATE_KEY.")
    return private_key, derived


@lru_cache(maxsize=4)
def _load_keys(private_b64: str, public_b64: str, subject: str) -> VapidKeys:
    private_key, derived = check_vapid_pair(private_b64, public_b64)
    return VapidKeys(private_key=private_key, public_key_b64=derived, subject=subject)


def vapid_keys() -> VapidKeys | None:
    """The keys push messages are signed with, or None when this installation has no push channel."""
    private_b64 = settings.PUSH_VAPID_PRIVATE_KEY
    subject = settings.PUSH_VAPID_SUBJECT or f"mailto:{parseaddr(settings.DEFAULT_FROM_EMAIL)[1]}"
    if not private_b64:
        dev_file = settings.PUSH_VAPID_DEV_KEY_FILE
        if not (settings.DEBUG and dev_file):
            return None
        private_b64 = _dev_private_key(Path(dev_file))
        return _load_keys(private_b64, "", subject)
    return _load_keys(private_b64, settings.PUSH_VAPID_PUBLIC_KEY, subject)


def push_configured() -> bool:
    return vapid_keys() is not None


# Subscriptions sent by browsers


@dataclass(frozen=True)
class SubscriptionKeys:
    endpoint: str
    p256dh: str
    auth: str


def endpoint_allowed(endpoint: str) -> bool:
    """Only push services' addresses: we POST to this URL, so a made-up one must not reach our network.

    The host must be, or end with ``.`` and, one of ``settings.PUSH_ENDPOINT_HOSTS``; the scheme is https
    unless the entry names another (``http://127.0.0.1``, for a test server)."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        return False
    for entry in settings.PUSH_ENDPOINT_HOSTS:
        scheme, _, allowed = entry.lower().rpartition("://")
        if host == allowed or host.endswith("." + allowed):
            return parts.scheme == (scheme or "https")
    return False


def check_subscription(data: object) -> SubscriptionKeys:
    """A browser's ``PushSubscription.toJSON()``, checked: raises ``InvalidSubscription`` with the reason."""
    from django.utils.translation import gettext as _

    if not isinstance(data, dict):
        raise InvalidSubscription(_("L'abonnement envoyé par le navigateur est illisible."))
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 1000:
        raise InvalidSubscription(
            _("L'adresse de notification envoyée par le navigateur manque ou est trop longue.")
        )
    if not endpoint_allowed(endpoint):
        raise InvalidSubscription(_("Ce service de notification n'est pas accepté."))
    if (
        not isinstance(keys, dict)
        or not isinstance(keys.get("p256dh"), str)
        or not isinstance(keys.get("auth"), str)
    ):
        raise InvalidSubscription(_("Les clés de chiffrement envoyées par le navigateur manquent."))
    p256dh, auth = keys["p256dh"].strip(), keys["auth"].strip()
    try:
        point = b64url_decode(p256dh)
        secret = b64url_decode(auth)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (ValueError, binascii.Error):
        raise InvalidSubscription(
            _("Les clés de chiffrement envoyées par le navigateur ne sont pas valides.")
        ) from None
    if len(point) != 65 or len(secret) != 16:
        raise InvalidSubscription(
            _("Les clés de chiffrement envoyées par le navigateur ne sont pas valides.")
        )
    return SubscriptionKeys(endpoint=endpoint, p256dh=p256dh, auth=auth)


# RFC 8291 encryption


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def encrypt(
    payload: bytes,
    *,
    p256dh: str,
    auth: str,
    salt: bytes | None = None,
    sender_key: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    """The request body for ``payload``: the aes128gcm header (salt, record size, our ephemeral public key)
    then one encrypted record. ``salt`` and ``sender_key`` are for tests with known vectors."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"push payloads are at most {MAX_PAYLOAD} bytes")
    ua_public = b64url_decode(p256dh)
    auth_secret = b64url_decode(auth)
    receiver = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public)
    sender_key = sender_key or ec.generate_private_key(ec.SECP256R1())
    as_public = public_key_bytes(sender_key.public_key())
    salt = salt or os.urandom(16)

    ecdh_secret = sender_key.exchange(ec.ECDH(), receiver)
    # HKDF(auth_secret, ecdh_secret, "WebPush: info" || 0x00 || ua_public || as_public, 32): one block.
    prk_key = _hmac(auth_secret, ecdh_secret)
    ikm = _hmac(prk_key, b"WebPush: info\x00" + ua_public + as_public + b"\x01")
    prk = _hmac(salt, ikm)
    cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]

    record = AESGCM(cek).encrypt(nonce, payload + b"\x02", None)  # 0x02: the last (and only) record
    header = salt + struct.pack("!IB", RECORD_SIZE, len(as_public)) + as_public
    return header + record


# RFC 8292 VAPID


def vapid_authorization(endpoint: str, keys: VapidKeys, *, now: float | None = None) -> str:
    """The ``Authorization`` header value for a request to ``endpoint``."""
    parts = urlsplit(endpoint)
    claims = {
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int((now if now is not None else time.time()) + JWT_LIFETIME_SECONDS),
        "sub": keys.subject,
    }
    header = {"typ": "JWT", "alg": "ES256"}
    signing_input = (
        b64url_encode(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    )
    der = keys.private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"vapid t={signing_input}.{b64url_encode(signature)}, k={keys.public_key_b64}"


# Sending


@dataclass(frozen=True)
class PushMessage:
    title: str
    body: str
    url: str = ""
    icon: str = ""
    urgent: bool = False
    tag: str = ""

    def payload(self) -> bytes:
        """JSON for the service worker, cut so that it fits in one record (the body gives way first)."""
        data = {
            "title": self.title,
            "body": self.body,
            "url": self.url,
            "icon": self.icon,
            "urgent": self.urgent,
            "tag": self.tag,
        }
        encoded = json.dumps(data, ensure_ascii=False).encode()
        body = self.body.encode()
        while len(encoded) > MAX_PAYLOAD and body:
            body = body[: max(len(body) - (len(encoded) - MAX_PAYLOAD) - len("…".encode()), 0)]
            text = body.decode(errors="ignore")
            data["body"] = text + "…" if text else ""
            encoded = json.dumps(data, ensure_ascii=False).encode()
        return encoded


TIMEOUT = (5, 20)  # seconds to connect, seconds to read


def send_push(*, endpoint: str, p256dh: str, auth: str, message: PushMessage, keys: VapidKeys) -> None:
    """POSTs ``message`` to the browser's push service. Returns when it was accepted (201 or another 2xx)."""
    if not endpoint_allowed(endpoint):
        raise PushError("push service not allowed", permanent=True)
    body = encrypt(message.payload(), p256dh=p256dh, auth=auth)
    headers = {
        "Authorization": vapid_authorization(endpoint, keys),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(TTL_URGENT if message.urgent else TTL_NORMAL),
        "Urgency": "high" if message.urgent else "normal",
    }
    response = requests.post(endpoint, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"push service answered {status}: {response.text[:200]}"
    if status in (404, 410):
        raise PushGone(reason)
    if status == 429 or status >= 500:
        raise PushError(reason)
    raise PushError(reason, permanent=True)  # 400, 401, 403, 413: our request is wrong; it would stay wrong
