"""Fixed vocabularies of the Numéripôle, aligned with La Coop de la médiation numérique and PIX.

The codes are La Coop's own (``apps/web/prisma/schema.prisma``: ``Thematique``, ``Autonomie``, ``TypeLieu``,
``Materiel``, ``StructureDeRedirection``, ``TrancheAge``, ``NiveauAtelier``), so that an export can be read
by the tools France's digital mediators already use. Labels are plain French for the people who read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class CoopTheme(models.TextChoices):
    DIAGNOSTIC = "diagnostic_numerique", _("Diagnostic numérique")
    EQUIPMENT = "prendre_en_main_du_materiel", _("Prendre en main du matériel (ordinateur, smartphone…)")
    MAINTENANCE = "maintenance_de_materiel", _("Entretenir son matériel")
    CONTENTS = "gere_ses_contenus_numeriques", _("Gérer ses contenus numériques (photos, fichiers)")
    BROWSING = "navigation_sur_internet", _("Naviguer sur internet")
    EMAIL = "email", _("E-mail")
    OFFICE = "bureautique", _("Bureautique")
    SOCIAL = "reseaux_sociaux", _("Réseaux sociaux, communication")
    HEALTH = "sante", _("Santé en ligne")
    BANKING = "banque_et_achats_en_ligne", _("Banque et achats en ligne")
    BUSINESS = "entrepreneuriat", _("Entrepreneuriat")
    JOBS = "insertion_professionnelle", _("Emploi, insertion professionnelle")
    SECURITY = "securite_numerique", _("Sécurité numérique")
    PARENTING = "parentalite", _("Parentalité")
    SCHOOL = "scolarite_et_numerique", _("Scolarité et numérique")
    CREATE = "creer_avec_le_numerique", _("Créer avec le numérique (photo, vidéo, 3D…)")
    CULTURE = "culture_numerique", _("Culture numérique")
    AI = "intelligence_artificielle", _("Intelligence artificielle")
    PROCEDURES = "aide_aux_demarches_administratives", _("Démarches administratives en ligne")


class Level(models.IntegerChoices):
    FIRST_STEPS = 1, _("Premiers pas")
    BEGINNER = 2, _("Débutant")
    INTERMEDIATE = 3, _("Intermédiaire")
    ADVANCED = 4, _("Avancé")


# La Coop knows three workshop levels; "first steps" is its "débutant" too.
COOP_LEVEL = {1: "debutant", 2: "debutant", 3: "intermediaire", 4: "avance"}


class Autonomy(models.TextChoices):
    ACCOMPANIED = "entierement_accompagne", _("Entièrement accompagné·e")
    PARTLY = "partiellement_autonome", _("Partiellement autonome")
    AUTONOMOUS = "autonome", _("Autonome")


class PlaceKind(models.TextChoices):
    ON_SITE = "lieu_activite", _("Au Numéripôle")
    HOME = "domicile", _("À domicile")
    REMOTE = "a_distance", _("À distance")
    OTHER = "autre", _("Autre lieu")


class Material(models.TextChoices):
    COMPUTER = "ordinateur", _("Ordinateur")
    PHONE = "telephone", _("Téléphone")
    TABLET = "tablette", _("Tablette")
    OTHER = "autre", _("Autre")
    NONE = "aucun", _("Aucun")


class Redirection(models.TextChoices):
    ADMINISTRATION = "administration", _("Une administration")
    MEDIATION = "mediation_numerique", _("Une autre structure de médiation numérique")
    OPERATOR = "operateur_ou_organisme_en_charge", _("L'opérateur ou l'organisme concerné")
    SOCIAL = "aide_sociale", _("Une structure d'aide sociale")
    JOBS = "insertion_professionnelle", _("Une structure d'insertion professionnelle")
    PROCEDURES = "aide_aux_demarches_administratives", _("Une aide aux démarches administratives")
    OTHER = "autre", _("Autre")


class AgeBand(models.TextChoices):
    UNDER_12 = "moins_de_douze", _("Moins de 12 ans")
    FROM_12 = "douze_dix_huit", _("12 à 17 ans")
    FROM_18 = "dix_huit_vingt_quatre", _("18 à 24 ans")
    FROM_25 = "vingt_cinq_trente_neuf", _("25 à 39 ans")
    FROM_40 = "quarante_cinquante_neuf", _("40 à 59 ans")
    FROM_60 = "soixante_soixante_neuf", _("60 à 69 ans")
    FROM_70 = "soixante_dix_plus", _("70 ans et plus")
    UNKNOWN = "non_communique", _("Non communiqué")


class Gender(models.TextChoices):
    MALE = "masculin", _("Homme")
    FEMALE = "feminin", _("Femme")
    UNKNOWN = "non_communique", _("Non communiqué")


class SocialStatus(models.TextChoices):
    SCHOOL = "scolarise", _("Scolarisé·e")
    JOBLESS = "sans_emploi", _("Sans emploi")
    EMPLOYED = "en_emploi", _("En emploi")
    RETIRED = "retraite", _("Retraité·e")
    UNKNOWN = "non_communique", _("Non communiqué")


class EquipmentKind(models.TextChoices):
    COMPUTER = "pc", _("Ordinateur")
    LAPTOP = "laptop", _("Ordinateur portable")
    TABLET = "tablet", _("Tablette")
    BOARD = "board", _("Tableau numérique")
    GAMING = "gaming_pc", _("PC de jeu")
    VR = "vr_headset", _("Casque de réalité virtuelle")
    CAMERA = "camera", _("Appareil photo, caméra")
    OTHER = "other", _("Autre")


# The Coop material an item counts as in an accompaniment record.
EQUIPMENT_MATERIAL = {
    "pc": "ordinateur",
    "laptop": "ordinateur",
    "gaming_pc": "ordinateur",
    "tablet": "tablette",
}


class PixArea(models.TextChoices):
    INFORMATION = "1", _("Informations et données")
    COMMUNICATION = "2", _("Communication et collaboration")
    CREATION = "3", _("Création de contenu")
    PROTECTION = "4", _("Protection et sécurité")
    ENVIRONMENT = "5", _("Environnement numérique")


@dataclass(frozen=True)
class Skill:
    code: str  # PIX competence number, "1.1" … "5.2"
    label: str | Promise

    @property
    def area(self) -> str:
        return self.code.split(".", 1)[0]


# PIX's 16 competences in its five areas (the European DigComp framework), in words a resident understands.
SKILLS: tuple[Skill, ...] = (
    Skill("1.1", _("Chercher une information sur internet")),
    Skill("1.2", _("Ranger ses fichiers et ses données")),
    Skill("1.3", _("Traiter des données (tableaux, listes)")),
    Skill("2.1", _("Échanger par e-mail, message ou visio")),
    Skill("2.2", _("Partager et publier")),
    Skill("2.3", _("Travailler à plusieurs en ligne")),
    Skill("2.4", _("Faire ses démarches et achats en ligne")),
    Skill("3.1", _("Écrire un document")),
    Skill("3.2", _("Créer des photos, des sons, des vidéos")),
    Skill("3.3", _("Adapter un document à son usage")),
    Skill("3.4", _("Programmer, fabriquer")),
    Skill("4.1", _("Sécuriser ses appareils et ses comptes")),
    Skill("4.2", _("Protéger ses données et sa vie privée")),
    Skill("4.3", _("Protéger sa santé et l'environnement")),
    Skill("5.1", _("Résoudre un problème technique")),
    Skill("5.2", _("Choisir et régler son équipement")),
)
SKILLS_BY_CODE = {skill.code: skill for skill in SKILLS}
SKILL_CHOICES = [(skill.code, f"{skill.code} — {skill.label}") for skill in SKILLS]

# Catalogue themes a commune starts with (name, Coop theme, short description).
DEFAULT_THEMES: tuple[tuple[str, str, str], ...] = (
    ("Smartphone et tablette", CoopTheme.EQUIPMENT, "Allumer, appeler, installer une application."),
    ("Ordinateur", CoopTheme.EQUIPMENT, "La souris, le clavier, les fenêtres, les fichiers."),
    ("Internet", CoopTheme.BROWSING, "Chercher une information, trouver un site sûr."),
    ("E-mail", CoopTheme.EMAIL, "Créer une adresse, écrire, joindre un document."),
    ("Achats en ligne", CoopTheme.BANKING, "Acheter, payer et suivre un colis sans se faire avoir."),
    ("Impôts et démarches en ligne", CoopTheme.PROCEDURES, "France Connect, impôts, CAF, Ameli, ANTS."),
    ("Sécurité", CoopTheme.SECURITY, "Mots de passe, arnaques, virus."),
    ("Photo", CoopTheme.CREATE, "Prendre, trier et partager ses photos."),
    ("Montage vidéo", CoopTheme.CREATE, "Monter un petit film avec ses vidéos."),
    ("Bureautique", CoopTheme.OFFICE, "Écrire une lettre, faire un tableau."),
    ("Réseaux sociaux", CoopTheme.SOCIAL, "Garder le lien avec sa famille, en sécurité."),
)
