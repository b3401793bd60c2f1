"""The Numéripôle's pages under ``/numeripole/``; the mediator's under ``/numeripole/gestion/``."""

from django.urls import path

from mairie.inclusion.views import desk, mine, public, stats

app_name = "inclusion"

urlpatterns = [
    # Residents
    path("", public.catalogue_page, name="catalogue"),
    path("ateliers/", public.workshops_page, name="workshops"),
    path("ateliers/<int:pk>/", public.workshop_page, name="workshop"),
    path("seances/<int:pk>/", public.session_page, name="session"),
    path("inscription/", public.session_register, name="register"),
    path("mon-parcours/", mine.my_activity, name="my_activity"),
    path("mon-profil/", mine.my_profile, name="my_profile"),
    path("materiel/", mine.equipment_page, name="equipment"),
    path("materiel/<int:pk>/", mine.equipment_item_page, name="equipment_item"),
    path("materiel/reservation/", mine.equipment_book, name="equipment_book"),
    # Mediator
    path("gestion/", desk.desk_home, name="desk"),
    path("gestion/themes/", desk.themes_manage, name="themes"),
    path("gestion/themes/<int:pk>/", desk.theme_edit, name="theme_edit"),
    path("gestion/ateliers/", desk.workshops_manage, name="workshops_manage"),
    path("gestion/ateliers/nouveau/", desk.workshop_new, name="workshop_new"),
    path("gestion/ateliers/<int:pk>/", desk.workshop_edit, name="workshop_edit"),
    path("gestion/ateliers/<int:pk>/nouvelle-seance/", desk.session_new, name="session_new"),
    path("gestion/seances/<int:pk>/", desk.session_manage, name="session_manage"),
    path("gestion/seances/<int:pk>/appel/", desk.session_attendance, name="session_attendance"),
    path("gestion/acces-libre/<int:pk>/", desk.dropin, name="dropin"),
    path("gestion/accompagnements/", desk.records_page, name="records"),
    path("gestion/accompagnements/nouveau/", desk.record_new, name="record_new"),
    path("gestion/accompagnements/<int:pk>/", desk.record_edit, name="record"),
    path("gestion/materiel/", desk.equipment_manage, name="equipment_manage"),
    path("gestion/materiel/nouveau/", desk.equipment_new, name="equipment_new"),
    path("gestion/materiel/<int:pk>/", desk.equipment_edit, name="equipment_edit"),
    path("gestion/materiel/<int:pk>/pret/", desk.equipment_lend, name="equipment_lend"),
    path("gestion/prets/<int:pk>/retour/", desk.loan_return, name="loan_return"),
    # Statistics
    path("statistiques/", stats.stats_page, name="stats"),
    path("statistiques/export.csv", stats.stats_export_csv, name="stats_csv"),
    path("statistiques/export.xlsx", stats.stats_export_xlsx, name="stats_xlsx"),
    path("statistiques/activites.csv", stats.activities_export_csv, name="activities_csv"),
]
