"""Senior homes, their gateway, their devices and the people to call."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils.timezone import now as timezone_now
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Home(models.Model):
    """A connected home and its resident's settings. Deadlines are columns, so tickers read only due rows."""

    class Mode(models.TextChoices):
        NORMAL = "normal", _("présent·e")
        AWAY = "away", _("absent·e")
        HOSPITAL = "hospital", _("hospitalisé·e")

    class ArmedMode(models.TextChoices):
        DISARMED = "disarmed", _("désactivée")
        ARMED_AWAY = "armed_away", _("activée (absence)")
        ARMED_HOME = "armed_home", _("activée (présence)")
        ARMED_NIGHT = "armed_night", _("activée (nuit)")

    class InactivityState(models.TextChoices):
        OK = "ok", _("activité normale")
        WARNING = "warning", _("avertissement sur la tablette")
        ALARM = "alarm", _("alarme d'inactivité")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    label = models.CharField(_("nom du logement"), max_length=120)
    address = models.TextField(_("adresse"), blank=True)
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="homecare_homes",
        verbose_name=_("résident·e"),
    )
    timezone = models.CharField(_("fuseau horaire"), max_length=64, default="Europe/Paris")
    mode = models.CharField(_("présence"), max_length=10, choices=Mode.choices, default=Mode.NORMAL)

    # Intrusion (Alarmo-style): arming starts an exit delay; a trigger while armed starts an entry delay.
    armed_mode = models.CharField(
        _("alarme intrusion"), max_length=12, choices=ArmedMode.choices, default=ArmedMode.DISARMED
    )
    armed_at = models.DateTimeField(null=True, blank=True)
    exit_delay_s = models.PositiveIntegerField(_("délai de sortie (secondes)"), default=60)
    entry_delay_s = models.PositiveIntegerField(_("délai d'entrée (secondes)"), default=30)
    intrusion_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    intrusion_device = models.ForeignKey(
        "homecare.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Inactivity: silence is counted only during active hours.
    active_from = models.TimeField(_("début de journée"), default=time(7, 0))
    active_until = models.TimeField(_("fin de journée"), default=time(22, 0))
    inactivity_threshold_minutes = models.PositiveIntegerField(_("seuil d'inactivité (minutes)"), default=720)
    inactivity_warning_minutes = models.PositiveIntegerField(
        _("avertissement sur la tablette avant l'alarme (minutes)"), default=10
    )
    morning_check_time = models.TimeField(_("mouvement attendu avant"), null=True, blank=True)
    morning_check_room = models.CharField(_("dans la pièce"), max_length=60, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    last_morning_activity_at = models.DateTimeField(null=True, blank=True)
    inactivity_state = models.CharField(
        max_length=10, choices=InactivityState.choices, default=InactivityState.OK
    )
    inactivity_reason = models.CharField(max_length=10, blank=True)  # "threshold" or "morning", while due
    # The next moment the inactivity ticker must look at this home (warning, then alarm); NULL when paused.
    inactivity_deadline = models.DateTimeField(null=True, blank=True, db_index=True)

    # Daily "I'm fine".
    checkin_enabled = models.BooleanField(_("bouton « Tout va bien » chaque jour"), default=False)
    checkin_deadline = models.TimeField(_("à presser avant"), default=time(11, 0))
    last_checkin_at = models.DateTimeField(null=True, blank=True)
    checkin_due_at = models.DateTimeField(null=True, blank=True, db_index=True)

    # Night: a door left open this long outside active hours raises an alarm.
    door_open_night_minutes = models.PositiveIntegerField(_("porte ouverte la nuit (minutes)"), default=15)

    # Escalation: minutes to wait for an acknowledgement before the next person in the chain.
    ack_minutes = models.PositiveIntegerField(
        _("délai de réponse avant la personne suivante (minutes)"), default=5
    )

    created_at = models.DateTimeField(default=timezone_now)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["label", "pk"]
        verbose_name = _("logement")
        verbose_name_plural = _("logements")

    def __str__(self) -> str:
        return self.label


class Gateway(models.Model):
    """The home's Zigbee2MQTT gateway: its MQTT account and the topics it publishes under."""

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.ForeignKey(Home, on_delete=models.CASCADE, related_name="gateways")
    mqtt_username = models.CharField(max_length=150, unique=True)
    password_hash = models.CharField(max_length=200, blank=True)
    # ``zigbee2mqtt/<commune-slug>/<home-id>``: device topics are ``<base_topic>/<friendly_name>``.
    base_topic = models.CharField(max_length=200, unique=True)
    # ``teleinfo/<commune-slug>/<home-id>``: the Linky meter's topics are ``<teleinfo_topic>/<ADCO>``.
    teleinfo_topic = models.CharField(max_length=200, unique=True, null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    online = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone_now)

    objects = ScopedManager(commune="commune")

    class Meta:
        verbose_name = _("passerelle")

    def __str__(self) -> str:
        return self.base_topic


class Device(models.Model):
    """A sensor or actuator known to the gateway by its Zigbee2MQTT friendly name (which may contain "/")."""

    class Kind(models.TextChoices):
        MOTION = "motion", _("détecteur de mouvement")
        CONTACT = "contact", _("détecteur d'ouverture")
        SMOKE = "smoke", _("détecteur de fumée")
        WATER_LEAK = "water_leak", _("détecteur de fuite d'eau")
        SOS = "sos", _("bouton d'appel (SOS)")
        FALL = "fall", _("détecteur de chute")
        SHUTTER = "shutter", _("volet")
        LIGHT = "light", _("lumière")
        THERMOSTAT = "thermostat", _("chauffage")
        METER = "meter", _("compteur électrique")
        BUTTON = "button", _("bouton")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.ForeignKey(Home, on_delete=models.CASCADE, related_name="devices")
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="devices")
    friendly_name = models.CharField(_("nom dans Zigbee2MQTT"), max_length=200)
    ieee_address = models.CharField(_("adresse IEEE"), max_length=32, blank=True)
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    room = models.CharField(_("pièce"), max_length=60, blank=True)
    label = models.CharField(_("nom affiché"), max_length=120, blank=True)
    model = models.CharField(_("modèle"), max_length=120, blank=True)
    # Silence longer than this is a supervision alarm (an SOS pendant: 60 minutes; battery sensors: 25 h).
    supervision_minutes = models.PositiveIntegerField(_("période de surveillance (minutes)"), default=1500)
    supervision_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    battery = models.PositiveSmallIntegerField(null=True, blank=True)
    linkquality = models.PositiveSmallIntegerField(null=True, blank=True)
    online = models.BooleanField(default=True)
    state = models.JSONField(default=dict, blank=True)
    # Smoke and water leak detectors alarm in every mode, armed or not, at home or away.
    always_on = models.BooleanField(default=False)
    # Intrusion: a trigger from this device waits for the entry delay (a front door) or alarms at once.
    use_entry_delay = models.BooleanField(default=True)
    # Door left open at night: the moment an open door becomes an alarm; NULL when closed.
    open_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone_now)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["room", "friendly_name"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "friendly_name"], name="homecare_device_unique_name"),
        ]
        verbose_name = _("appareil")
        verbose_name_plural = _("appareils")

    def __str__(self) -> str:
        return self.label or self.friendly_name


class Contact(models.Model):
    """Someone to call when an alarm is raised, in ``order``, when available (``available_from/until``)."""

    class Kind(models.TextChoices):
        RELATIVE = "relative", _("proche")
        NEIGHBOUR = "neighbour", _("voisin·e")
        OPERATOR = "operator", _("téléassistance")
        SOCIAL_SERVICES = "social_services", _("services sociaux")

    commune = models.ForeignKey("core.Commune", on_delete=models.CASCADE, related_name="+")
    home = models.ForeignKey(Home, on_delete=models.CASCADE, related_name="contacts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="homecare_contacts",
    )
    name = models.CharField(_("nom"), max_length=120)
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)
    email = models.EmailField(_("adresse e-mail"), blank=True)
    kind = models.CharField(_("lien"), max_length=20, choices=Kind.choices, default=Kind.RELATIVE)
    order = models.PositiveSmallIntegerField(_("ordre d'appel"), default=1)
    available_from = models.TimeField(_("joignable à partir de"), null=True, blank=True)
    available_until = models.TimeField(_("joignable jusqu'à"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone_now)

    objects = ScopedManager(commune="commune")

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = _("personne à prévenir")
        verbose_name_plural = _("personnes à prévenir")

    def __str__(self) -> str:
        return self.name
