from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager["User"]):
    def create_user(self, username: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(username=username, **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(username, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Accounts are shared by the installation; what a person may do is per commune (Membership).

    A person may have an email, a phone number, both, or neither (an account made at the town-hall counter,
    who signs in with an identifier and a password printed for them). ``is_superuser`` is the platform operator.
    """

    username = models.CharField(_("identifiant"), max_length=150, unique=True)
    email = models.EmailField(_("adresse e-mail"), null=True, blank=True, unique=True)
    phone = models.CharField(_("téléphone mobile"), max_length=20, null=True, blank=True, unique=True)
    first_name = models.CharField(_("prénom"), max_length=100, blank=True)
    last_name = models.CharField(_("nom"), max_length=100, blank=True)
    language = models.CharField(_("langue"), max_length=8, default="fr")
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    home_commune = models.ForeignKey(
        "core.Commune", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Where and how this person wants to be told things.
    notify_by_email = models.BooleanField(_("recevoir les messages par e-mail"), default=True)
    notify_by_sms = models.BooleanField(_("recevoir les messages par SMS"), default=True)
    quiet_hours_start = models.TimeField(_("début des heures calmes"), null=True, blank=True)
    quiet_hours_end = models.TimeField(_("fin des heures calmes"), null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    # Set when town-hall staff print a temporary password; the person is asked to choose their own at sign-in.
    must_change_password = models.BooleanField(default=False)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = []  # a class attribute, as AbstractBaseUser declares it

    class Meta:
        verbose_name = _("personne")
        verbose_name_plural = _("personnes")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.erased_at:
            return str(_("Personne effacée"))
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.username

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.first_name or self.username


class LoginCode(models.Model):
    """A one-time code (six digits) or link, sent by email or SMS, to sign in or to choose a new password."""

    class Purpose(models.TextChoices):
        LOGIN = "login", _("connexion")
        RESET = "reset", _("nouveau mot de passe")

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        SMS = "sms", _("SMS")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_codes")
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    code_hash = models.CharField(max_length=128)
    link_secret_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose", "expires_at"])]


class LoginFailure(models.Model):
    """One failed sign-in; recent rows per account and per address throttle further attempts."""

    key = models.CharField(max_length=200, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
