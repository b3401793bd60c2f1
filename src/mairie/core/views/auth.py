"""Signing in and out, signing up."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from mairie.core.forms import Form
from mairie.core.permissions import public
from mairie.core.views.pages import _safe_next


class PasswordLoginForm(Form):
    login = forms.CharField(
        label=_("Adresse e-mail, numéro de téléphone ou identifiant"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Mot de passe"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


@public
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = PasswordLoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(request, username=form.cleaned_data["login"], password=form.cleaned_data["password"])
        if user is None:
            form.add_error(None, _("L'identifiant ou le mot de passe ne correspond pas. Vérifiez et réessayez."))
        else:
            login(request, user)
            return redirect(_safe_next(request, "/"))
    return render(request, "core/login.html", {"form": form, "next": _safe_next(request, "")})


@public
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("core:home")


urlpatterns = [
    path("connexion/", login_view, name="login"),
    path("deconnexion/", logout_view, name="logout"),
]


class SignupForm(Form):
    first_name = forms.CharField(label=_("Prénom"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = forms.CharField(label=_("Nom"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    email = forms.EmailField(
        label=_("Adresse e-mail"), required=False, widget=forms.EmailInput(attrs={"autocomplete": "email"})
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
        help_text=_("Au moins 10 caractères. Sans mot de passe, vous recevrez un code à chaque connexion."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str | None:
        from mairie.core.models import User

        email = (self.cleaned_data.get("email") or "").strip().lower() or None
        if email and User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("Un compte existe déjà avec cette adresse. Essayez de vous connecter."))
        return email

    def clean_phone(self) -> str | None:
        from mairie.core.models import User
        from mairie.core.phones import normalise_phone

        raw = (self.cleaned_data.get("phone") or "").strip()
        if not raw:
            return None
        phone = normalise_phone(raw)
        if phone is None:
            raise forms.ValidationError(_("Ce numéro n'est pas reconnu. Écrivez-le comme 06 12 34 56 78."))
        if User.objects.filter(phone=phone).exists():
            raise forms.ValidationError(_("Un compte existe déjà avec ce numéro. Essayez de vous connecter."))
        return phone

    def clean_password(self) -> str:
        from django.contrib.auth.password_validation import validate_password

        password = self.cleaned_data.get("password") or ""
        if password:
            validate_password(password)
        return password

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if not cleaned.get("email") and not cleaned.get("phone") and not self.errors.get("email") and not self.errors.get("phone"):
            self.add_error("email", _("Donnez une adresse e-mail ou un numéro de téléphone, pour recevoir vos codes."))
        return cleaned


@public
@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    from mairie.core.services.accounts import account_register

    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = account_register(
            commune=request.commune,  # type: ignore[attr-defined]
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data["email"],
            phone=data["phone"],
            password=data["password"] or None,
            language=request.LANGUAGE_CODE,
        )
        login(request, user, backend="mairie.core.auth_backends.LoginBackend")
        return redirect("core:account")
    return render(request, "core/signup.html", {"form": form})


urlpatterns += [path("inscription/", signup_view, name="signup")]
