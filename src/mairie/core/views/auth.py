"""Signing in and out, signing up, one-time codes and links, forgotten passwords, two-factor authentication.

Pages that take a login never say whether an account exists: the answer is the same either way.
Failed attempts are counted per account and per client address (``services.login``).
"""

from __future__ import annotations

import time
from base64 import b32encode
from typing import Any
from urllib.parse import quote

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.password_validation import password_validators_help_texts, validate_password
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from mairie.core.auth_backends import find_user_by_login
from mairie.core.forms import Form
from mairie.core.middleware import SECOND_FACTOR_SESSION_KEY
from mairie.core.models import LoginCode, User
from mairie.core.permissions import needs_second_factor, public, require_login
from mairie.core.phones import is_mobile, normalise_phone
from mairie.core.services import login as login_service
from mairie.core.services.accounts import (
    account_register,
    account_set_password,
    two_factor_backup_codes_renew,
    two_factor_confirm,
    two_factor_device,
    two_factor_disable,
    two_factor_start,
)
from mairie.core.services.login import CodeResult
from mairie.core.views.pages import ONE_YEAR, _safe_next
from mairie.core.views.push import switch_off_this_browser

BACKEND = "mairie.core.auth_backends.LoginBackend"
PENDING_CODE_KEY = "mairie_pending_code"  # which login a code was asked for, so the next page can check it
RESET_KEY = "mairie_password_reset"  # who may choose a new password, until when
BACKUP_CODES_KEY = "mairie_backup_codes"  # shown once, then forgotten


def client_address(request: HttpRequest) -> str:
    """The client's address as the server sees it. Behind a reverse proxy, the proxy must set REMOTE_ADDR
    (e.g. uvicorn ``--proxy-headers --forwarded-allow-ips``), never trust a header the client can write."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def throttled_message(seconds: int) -> str:
    minutes = login_service.wait_minutes(seconds)
    return ngettext(
        "Trop d'essais sans succès. Par sécurité, attendez %(minutes)d minute avant de réessayer.",
        "Trop d'essais sans succès. Par sécurité, attendez %(minutes)d minutes avant de réessayer.",
        minutes,
    ) % {"minutes": minutes}


def _sign_in(request: HttpRequest, user: User) -> None:
    login(request, user, backend=BACKEND)
    # Known now, so the middleware need not look it up (nor write the session) on the next page.
    request.session[SECOND_FACTOR_SESSION_KEY] = two_factor_device(user) is not None


def _in_account_language(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Once signed in, pages speak the language saved in the person's account (chosen in "Mon compte" or
    when they last changed it while signed in), even on a shared computer set to another language."""
    user = request.user
    language = getattr(user, "language", "")
    if user.is_authenticated and language in dict(settings.LANGUAGES):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=ONE_YEAR, samesite="Lax")
    return response


def _after_login(request: HttpRequest, next_url: str = "") -> HttpResponse:
    return _in_account_language(request, redirect(next_url or _safe_next(request, reverse("core:home"))))


# --- password sign-in -------------------------------------------------------------------------------------


class PasswordLoginForm(Form):
    login = forms.CharField(
        label=_("Adresse e-mail, numéro de téléphone ou identifiant"),
        max_length=200,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


@public
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = PasswordLoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        typed = form.cleaned_data["login"]
        found = find_user_by_login(typed)
        keys = login_service.throttle_keys(user=found, login=typed, address=client_address(request))
        wait = login_service.throttle_wait_seconds(keys=keys)
        if wait:
            form.add_error(None, throttled_message(wait))
        else:
            user = authenticate(request, username=typed, password=form.cleaned_data["password"])
            if user is None:
                wait = login_service.login_failure_record(keys=keys, commune=request.commune, user=found)  # type: ignore[attr-defined]
                form.add_error(
                    None,
                    throttled_message(wait)
                    if wait
                    else _("L'identifiant ou le mot de passe ne correspond pas. Vérifiez et réessayez."),
                )
            else:
                login_service.login_failures_clear(user=user, login=typed)
                _sign_in(request, user)
                if user.must_change_password:  # a temporary password printed at the counter
                    return _choose_own_password(request)
                return _after_login(request)
    return render(
        request,
        "core/auth/login.html",
        {
            "form": form,
            "next": _safe_next(request, ""),
            "expired": request.GET.get("expired") == "1",
        },
    )


def _choose_own_password(request: HttpRequest) -> HttpResponse:
    """After signing in with a password printed by town-hall staff: the person chooses their own."""
    target = reverse("core:password_change")
    next_url = _safe_next(request, "")
    return _in_account_language(
        request, redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)
    )


@public
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    switched_off = switch_off_this_browser(request)
    logout(request)
    if switched_off:
        messages.info(request, _("Vous êtes déconnecté. Cet appareil ne recevra plus vos notifications."))
    return redirect("core:home")


# --- sign-up ----------------------------------------------------------------------------------------------


class SignupForm(Form):
    first_name = forms.CharField(
        label=_("Prénom"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        label=_("Nom"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )
    email = forms.EmailField(
        label=_("Adresse e-mail"),
        required=False,
        error_messages={
            "invalid": _("Cette adresse e-mail est incomplète. Écrivez-la comme marie@exemple.fr.")
        },
        widget=forms.EmailInput(
            attrs={"autocomplete": "email", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    phone = forms.CharField(
        label=_("Numéro de téléphone mobile"),
        required=False,
        max_length=30,
        help_text=_("Par exemple 06 12 34 56 78. Il suffit de donner l'e-mail ou le téléphone."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        required=False,
        strip=False,
        help_text=_("Au moins 10 caractères. Sans mot de passe, vous recevrez un code à chaque connexion."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str | None:
        email = (self.cleaned_data.get("email") or "").strip().lower() or None
        if email and User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                _("Un compte existe déjà avec cette adresse. Essayez de vous connecter.")
            )
        return email

    def clean_phone(self) -> str | None:
        raw = (self.cleaned_data.get("phone") or "").strip()
        if not raw:
            return None
        phone = normalise_phone(raw)
        if phone is None:
            raise forms.ValidationError(_("Ce numéro n'est pas reconnu. Écrivez-le comme 06 12 34 56 78."))
        if not is_mobile(phone):
            raise forms.ValidationError(
                _("Ce numéro est celui d'un téléphone fixe, qui ne reçoit pas les SMS. Donnez un portable.")
            )
        if User.objects.filter(phone=phone).exists():
            raise forms.ValidationError(_("Un compte existe déjà avec ce numéro. Essayez de vous connecter."))
        return phone

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            not cleaned.get("email")
            and not cleaned.get("phone")
            and not self.has_error("email")
            and not self.has_error("phone")
        ):
            self.add_error(
                "email", _("Donnez une adresse e-mail ou un numéro de téléphone, pour recevoir vos codes.")
            )
        password = cleaned.get("password")
        if password:
            # Compared with the name and contact given, so that "Dupont2024!" is refused for Mr Dupont.
            candidate = User(
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
                email=cleaned.get("email"),
                phone=cleaned.get("phone"),
            )
            try:
                validate_password(password, user=candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


@public
@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = account_register(
                commune=request.commune,  # type: ignore[attr-defined]
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data["phone"],
                password=data["password"] or None,
                language=request.LANGUAGE_CODE,
            )
        except IntegrityError:  # the same email or phone registered a split second earlier
            form.add_error(
                None, _("Un compte existe déjà avec cette adresse ou ce numéro. Essayez de vous connecter.")
            )
        else:
            _sign_in(request, user)
            messages.success(request, _("Votre compte est créé. Bienvenue !"))
            return redirect("core:account")
    return render(request, "core/auth/signup.html", {"form": form})


# --- one-time codes and links -----------------------------------------------------------------------------


class CodeRequestForm(Form):
    login = forms.CharField(
        label=_("Adresse e-mail, numéro de téléphone ou identifiant"),
        max_length=200,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    channel = forms.ChoiceField(
        label=_("Recevoir le code"),
        required=False,
        choices=[
            (LoginCode.Channel.EMAIL, _("par e-mail")),
            (LoginCode.Channel.SMS, _("par SMS, sur mon portable")),
        ],
        widget=forms.RadioSelect,
        help_text=_("Si vous ne choisissez pas, nous l'envoyons là où c'est possible."),
    )


class CodeEntryForm(Form):
    code = forms.CharField(
        label=_("Code reçu (6 chiffres)"),
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "class": "code-input",
                "size": "8",
            }
        ),
    )

    def clean_code(self) -> str:
        digits = "".join(ch for ch in self.cleaned_data["code"] if not ch.isspace())
        if not digits.isdigit() or len(digits) != login_service.CODE_LENGTH:
            raise forms.ValidationError(_("Le code compte six chiffres, par exemple 123456."))
        return digits


_CODE_PAGES = {
    LoginCode.Purpose.LOGIN: {"request": "core:login_code", "enter": "core:login_code_enter"},
    LoginCode.Purpose.RESET: {"request": "core:password_reset", "enter": "core:password_reset_enter"},
}


def _code_request(request: HttpRequest, purpose: LoginCode.Purpose) -> HttpResponse:
    form = CodeRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        wait = login_service.throttle_wait_seconds(keys=[f"ip:{client_address(request)}"])
        if wait:
            form.add_error(None, throttled_message(wait))
        else:
            typed = form.cleaned_data["login"]
            user = find_user_by_login(typed)
            if user is not None and user.is_active:
                channel = login_service.pick_channel(
                    user=user, requested=form.cleaned_data["channel"], login=typed
                )
                if channel:
                    login_service.login_code_send(
                        commune=request.commune,  # type: ignore[attr-defined]
                        user=user,
                        purpose=purpose,
                        channel=channel,
                        site_url=request.build_absolute_uri("/"),
                    )
            # The same answer whether or not an account matched.
            request.session[PENDING_CODE_KEY] = {
                "purpose": str(purpose),
                "user": user.pk if user is not None and user.is_active else None,
                "login": typed,
                "sent_at": int(time.time()),
                "tries": 0,
                "next": _safe_next(request, ""),
            }
            return redirect(_CODE_PAGES[purpose]["enter"])
    return render(
        request,
        "core/auth/login_code_request.html",
        {"form": form, "next": _safe_next(request, ""), "reset": purpose == LoginCode.Purpose.RESET},
    )


def _code_enter(request: HttpRequest, purpose: LoginCode.Purpose) -> HttpResponse:
    pending = request.session.get(PENDING_CODE_KEY)
    if not pending or pending.get("purpose") != purpose:
        return redirect(_CODE_PAGES[purpose]["request"])
    form = CodeEntryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = User.objects.filter(pk=pending["user"], is_active=True).first() if pending["user"] else None
        keys = login_service.throttle_keys(user=user, login=pending["login"], address=client_address(request))
        wait = login_service.throttle_wait_seconds(keys=keys)
        # Messages depend only on what this browser did, never on whether the account exists.
        expired = time.time() - pending["sent_at"] > settings.LOGIN_CODE_TTL_SECONDS
        if wait:
            form.add_error(None, throttled_message(wait))
        elif expired or pending["tries"] >= login_service.MAX_CODE_ATTEMPTS:
            form.add_error(None, _too_late_message(expired))
        else:
            check = login_service.login_code_check(user=user, purpose=purpose, code=form.cleaned_data["code"])
            if check.result is CodeResult.ACCEPTED and user is not None:
                del request.session[PENDING_CODE_KEY]
                login_service.login_failures_clear(user=user, login=pending["login"])
                if purpose == LoginCode.Purpose.RESET:
                    _allow_reset(request, user)
                    return redirect("core:password_reset_new")
                _sign_in(request, user)
                return _after_login(request, pending.get("next", ""))
            pending["tries"] += 1
            request.session[PENDING_CODE_KEY] = pending
            wait = login_service.login_failure_record(keys=keys, commune=request.commune, user=user)  # type: ignore[attr-defined]
            if wait:
                form.add_error(None, throttled_message(wait))
            elif pending["tries"] >= login_service.MAX_CODE_ATTEMPTS:
                form.add_error(None, _too_late_message(False))
            else:
                form.add_error(
                    "code", _("Ce code ne correspond pas. Vérifiez les six chiffres et réessayez.")
                )
    return render(
        request,
        "core/auth/login_code_enter.html",
        {
            "form": form,
            "reset": purpose == LoginCode.Purpose.RESET,
            "login": pending["login"],
            "minutes": settings.LOGIN_CODE_TTL_SECONDS // 60,
            "request_url": reverse(_CODE_PAGES[purpose]["request"]),
        },
    )


def _too_late_message(expired: bool) -> str:
    if expired:
        return _("Ce code n'est plus valable : il a plus de %(minutes)d minutes. Demandez-en un nouveau.") % {
            "minutes": settings.LOGIN_CODE_TTL_SECONDS // 60
        }
    return str(_("Ce code a été essayé trop de fois. Par sécurité, demandez-en un nouveau."))


@public
@require_http_methods(["GET", "POST"])
def login_code_request(request: HttpRequest) -> HttpResponse:
    return _code_request(request, LoginCode.Purpose.LOGIN)


@public
@require_http_methods(["GET", "POST"])
def login_code_enter(request: HttpRequest) -> HttpResponse:
    return _code_enter(request, LoginCode.Purpose.LOGIN)


@public
@require_http_methods(["GET", "POST"])
def password_reset_request(request: HttpRequest) -> HttpResponse:
    return _code_request(request, LoginCode.Purpose.RESET)


@public
@require_http_methods(["GET", "POST"])
def password_reset_enter(request: HttpRequest) -> HttpResponse:
    return _code_enter(request, LoginCode.Purpose.RESET)


@public
@require_http_methods(["GET", "POST"])
def login_link(request: HttpRequest, code_id: int, secret: str) -> HttpResponse:
    """The link from the message. Opening it shows one button; only pressing it uses the link up, so that
    mail scanners and message previews that open links by themselves do not spend it."""
    login_code = login_service.login_link_find(code_id=code_id, secret=secret)
    if login_code is None:
        return render(request, "core/auth/login_link_invalid.html", status=410)
    user = login_code.user
    if login_code.purpose == LoginCode.Purpose.RESET:
        form = NewPasswordForm(user, request.POST or None)
        if request.method == "POST" and form.is_valid():
            if login_service.login_link_use(code_id=code_id, secret=secret) is None:
                return render(request, "core/auth/login_link_invalid.html", status=410)
            return _finish_reset(request, user, form.cleaned_data["new_password1"])
        return render(request, "core/auth/password_new.html", {"form": form, "person": user})
    if request.method == "POST":
        if login_service.login_link_use(code_id=code_id, secret=secret) is None:
            return render(request, "core/auth/login_link_invalid.html", status=410)
        login_service.login_failures_clear(user=user)
        _sign_in(request, user)
        return _after_login(request)
    return render(request, "core/auth/login_link.html", {"person": user})


# --- forgotten password, password change ------------------------------------------------------------------


class NewPasswordForm(Form):
    new_password1 = forms.CharField(
        label=_("Nouveau mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("Le même mot de passe, une seconde fois"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = " ".join(
            str(text) for text in password_validators_help_texts()
        )

    def clean_new_password1(self) -> str:
        password = self.cleaned_data["new_password1"]
        validate_password(password, user=self.user)
        return password

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("new_password1"), cleaned.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", _("Les deux mots de passe ne sont pas identiques. Retapez-les."))
        return cleaned


class PasswordChangeForm(NewPasswordForm):
    old_password = forms.CharField(
        label=_("Mot de passe actuel"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["old_password", "new_password1", "new_password2"]

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        if not user.has_usable_password():
            del self.fields["old_password"]  # signed in by code, never had a password: nothing to confirm

    def clean_old_password(self) -> str:
        password = self.cleaned_data["old_password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("Ce n'est pas votre mot de passe actuel."))
        return password


def _allow_reset(request: HttpRequest, user: User) -> None:
    request.session[RESET_KEY] = {
        "user": user.pk,
        "until": int(time.time()) + settings.LOGIN_CODE_TTL_SECONDS,
    }


def _finish_reset(request: HttpRequest, user: User, password: str) -> HttpResponse:
    account_set_password(user=user, password=password, commune=request.commune, reason="reset")  # type: ignore[attr-defined]
    request.session.pop(RESET_KEY, None)
    login_service.login_failures_clear(user=user)
    # A fresh session with the new password's hash: every other session of this person is now invalid.
    _sign_in(request, user)
    messages.success(request, _("Votre nouveau mot de passe est enregistré. Vous êtes connecté·e."))
    return _in_account_language(request, redirect("core:home"))


@public
@require_http_methods(["GET", "POST"])
def password_reset_new(request: HttpRequest) -> HttpResponse:
    allowed = request.session.get(RESET_KEY)
    user = None
    if allowed and allowed["until"] >= time.time():
        user = User.objects.filter(pk=allowed["user"], is_active=True).first()
    if user is None:
        request.session.pop(RESET_KEY, None)
        messages.error(request, _("Le délai pour choisir un nouveau mot de passe est passé. Recommencez."))
        return redirect("core:password_reset")
    form = NewPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _finish_reset(request, user, form.cleaned_data["new_password1"])
    return render(request, "core/auth/password_new.html", {"form": form, "person": user})


@require_login
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = PasswordChangeForm(user, request.POST or None)
    if user.must_change_password and "old_password" in form.fields:
        form.fields["old_password"].label = _("Mot de passe écrit sur votre fiche")
    if request.method == "POST":
        keys = login_service.throttle_keys(user=user, address=client_address(request))
        wait = login_service.throttle_wait_seconds(keys=keys)
        if wait:
            form.is_valid()
            form.add_error(None, throttled_message(wait))
        elif form.is_valid():
            account_set_password(
                user=user,
                password=form.cleaned_data["new_password1"],
                commune=request.commune,  # type: ignore[attr-defined]
                reason="change",
            )
            update_session_auth_hash(request, user)  # this session stays; the others end
            messages.success(
                request, _("Votre mot de passe est changé. Vos autres appareils sont déconnectés.")
            )
            return redirect(_safe_next(request, reverse("core:account")))
        elif form.has_error("old_password", "password_incorrect"):  # a wrong one, not an empty one
            login_service.login_failure_record(keys=keys, commune=request.commune, user=user)  # type: ignore[attr-defined]
    return render(
        request,
        "core/auth/password_change.html",
        {"form": form, "next": _safe_next(request, ""), "temporary": user.must_change_password},
    )


# --- two-factor authentication ----------------------------------------------------------------------------


class TwoFactorCodeForm(Form):
    token = forms.CharField(
        label=_("Code à 6 chiffres affiché par l'application"),
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "class": "code-input",
                "size": "8",
            }
        ),
    )

    def __init__(self, *args: Any, allow_backup: bool = False, **kwargs: Any) -> None:
        self.allow_backup = allow_backup
        super().__init__(*args, **kwargs)
        if allow_backup:
            self.fields["token"].help_text = _("Sans votre téléphone, tapez un de vos codes de secours.")
            self.fields["token"].widget.attrs.pop("inputmode")
            self.fields["token"].widget.attrs["autocapitalize"] = "none"

    def clean_token(self) -> str:
        token = "".join(self.cleaned_data["token"].split()).lower()
        if token.isdigit() and len(token) == 6:
            return token
        if self.allow_backup and token.isalnum() and len(token) == 8:
            return token
        raise forms.ValidationError(_("Le code compte six chiffres, par exemple 123456."))


def _otp_url(request: HttpRequest, device: TOTPDevice) -> str:
    commune = request.commune  # type: ignore[attr-defined]
    issuer = f"{settings.MAIRIE_PLATFORM_NAME} {commune.name}".replace(":", "")
    user: User = device.user
    label = f"{issuer}:{user.email or user.phone or user.username}"
    secret = b32encode(device.bin_key).decode()
    query = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": "6", "period": "30"}
    )
    return f"otpauth://totp/{quote(label)}?{query}"


def _setup_context(request: HttpRequest, device: TOTPDevice) -> dict[str, Any]:
    secret = b32encode(device.bin_key).decode()
    qr = segno.make(_otp_url(request, device), error="m", micro=False)
    return {
        "qr_data_uri": qr.svg_data_uri(scale=5, border=2, nl=False),
        "qr_size": qr.symbol_size(scale=5, border=2)[0],
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
    }


def _second_factor_device(user: User, token: str) -> TOTPDevice | StaticDevice | None:
    """Six digits are a code from the app; eight characters are a backup code."""
    model = TOTPDevice if len(token) == 6 else StaticDevice
    return model.objects.filter(user=user, confirmed=True).order_by("-id").first()


@require_login
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up (QR code, key, first code), or pass (code or backup code), or manage the second factor."""
    user: User = request.user  # type: ignore[assignment]
    commune = request.commune  # type: ignore[attr-defined]
    next_url = _safe_next(request, "")
    device = two_factor_device(user)
    required = needs_second_factor(user, commune)
    verified = user.is_verified()  # type: ignore[attr-defined]
    setting_up = device is None or (verified and request.POST.get("step", request.GET.get("step")) == "setup")

    if device is not None and not verified:
        form = TwoFactorCodeForm(request.POST or None, allow_backup=True)
        if request.method == "POST" and form.is_valid():
            keys = login_service.throttle_keys(user=user, address=client_address(request))
            wait = login_service.throttle_wait_seconds(keys=keys)
            token = form.cleaned_data["token"]
            second = _second_factor_device(user, token)
            if wait:
                form.add_error(None, throttled_message(wait))
            elif second is not None and not second.verify_is_allowed()[0]:
                # django-otp's own brake after a wrong code: 1, 2, 4… seconds. Not counted as a failure.
                form.add_error(
                    "token", _("Attendez quelques secondes, puis tapez le code affiché à ce moment-là.")
                )
            elif second is not None and second.verify_token(token):
                otp_login(request, second)
                login_service.login_failures_clear(user=user)
                request.session[SECOND_FACTOR_SESSION_KEY] = True
                return _after_login(request, next_url)
            else:
                wait = login_service.login_failure_record(keys=keys, commune=commune, user=user)
                form.add_error(
                    "token",
                    throttled_message(wait)
                    if wait
                    else _("Ce code ne convient pas. Tapez le code affiché maintenant par l'application."),
                )
        return render(request, "core/auth/two_factor_verify.html", {"form": form, "next": next_url})

    if setting_up:
        pending = two_factor_start(user=user)
        form = TwoFactorCodeForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and not pending.verify_is_allowed()[0]:
            form.add_error(
                "token", _("Attendez quelques secondes, puis tapez le code affiché à ce moment-là.")
            )
        elif request.method == "POST" and form.is_valid():
            codes = two_factor_confirm(
                user=user, commune=commune, device=pending, token=form.cleaned_data["token"]
            )
            if codes is None:
                form.add_error(
                    "token",
                    _("Ce code ne correspond pas. Tapez le code affiché maintenant par l'application."),
                )
            else:
                pending.refresh_from_db()
                otp_login(request, pending)
                request.session[SECOND_FACTOR_SESSION_KEY] = True
                request.session[BACKUP_CODES_KEY] = codes
                url = reverse("core:two_factor_backup_codes")
                return redirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)
        context = {"form": form, "next": next_url, "required": required, "replacing": device is not None}
        return render(request, "core/auth/two_factor_setup.html", context | _setup_context(request, pending))

    # Verified, with an app: manage it.
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "renew":
            request.session[BACKUP_CODES_KEY] = two_factor_backup_codes_renew(user=user, commune=commune)
            return redirect("core:two_factor_backup_codes")
        if action == "disable" and not required:
            two_factor_disable(user=user, commune=commune)
            request.session[SECOND_FACTOR_SESSION_KEY] = False
            messages.success(request, _("La double authentification est désactivée."))
            return redirect("core:two_factor")
    backup = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return render(
        request,
        "core/auth/two_factor_status.html",
        {"required": required, "backup_left": backup.token_set.count() if backup else 0},
    )


@require_login
@require_http_methods(["GET"])
def two_factor_backup_codes(request: HttpRequest) -> HttpResponse:
    """The backup codes, once: they are forgotten as soon as this page is shown."""
    codes = request.session.pop(BACKUP_CODES_KEY, None)
    if not codes:
        return redirect("core:two_factor")
    return render(
        request,
        "core/auth/two_factor_backup_codes.html",
        {"codes": codes, "next": _safe_next(request, reverse("core:home"))},
    )


urlpatterns = [
    path("connexion/", login_view, name="login"),
    path("deconnexion/", logout_view, name="logout"),
    path("inscription/", signup_view, name="signup"),
    path("connexion/code/", login_code_request, name="login_code"),
    path("connexion/code/saisir/", login_code_enter, name="login_code_enter"),
    path("connexion/lien/<int:code_id>/<str:secret>/", login_link, name="login_link"),
    path("mot-de-passe/oublie/", password_reset_request, name="password_reset"),
    path("mot-de-passe/oublie/code/", password_reset_enter, name="password_reset_enter"),
    path("mot-de-passe/nouveau/", password_reset_new, name="password_reset_new"),
    path("mot-de-passe/changer/", password_change, name="password_change"),
    path("double-authentification/", two_factor, name="two_factor"),
    path(
        "double-authentification/codes-de-secours/", two_factor_backup_codes, name="two_factor_backup_codes"
    ),
]
