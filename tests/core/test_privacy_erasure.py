"""Erasure: the person asks, a commune admin completes or refuses; statistics and the log still add up."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from mairie.core import personal_data
from mairie.core.models import (
    AuditEntry,
    ErasureRequest,
    LoginCode,
    Mandate,
    Membership,
    Notification,
    OutboxMessage,
    Role,
    User,
)
from mairie.core.selectors import history_for, history_lines
from mairie.core.services.audit import log_action
from mairie.core.services.login import login_code_send
from mairie.core.services.privacy import erasure_complete, erasure_refuse, erasure_request_create
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def _client(commune, user=None):
    client = Client(HTTP_HOST=commune.hosts.first().host)
    if user is not None:
        client.force_login(user, backend="mairie.core.auth_backends.LoginBackend")
    return client


@pytest.fixture
def admin(commune):
    return make_user(commune, Role.ADMIN, first_name="Alice", last_name="Mairesse", email="alice@example.org")


@pytest.fixture
def resident(commune):
    return make_user(
        commune, first_name="Gaspard", last_name="Quintonnet", email="gaspard@example.org", password=PASSWORD
    )


def _request_erasure(commune, person, reason="Je déménage."):
    return _client(commune, person).post(reverse("core:erasure"), {"reason": reason, "confirm": "on"})


def test_erasure_page_explains_what_goes_and_what_stays(commune, resident):
    body = _client(commune, resident).get(reverse("core:erasure")).content.decode()
    assert "Ce qui sera effacé" in body and "Ce qui est gardé, sans votre nom" in body
    assert "Personne effacée" in body
    assert reverse("core:my_data") in body


def test_request_needs_the_confirmation_box(commune, resident):
    response = _client(commune, resident).post(reverse("core:erasure"), {"reason": ""})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Cochez cette case pour confirmer votre demande." in body and 'aria-invalid="true"' in body
    with scope(commune=commune):
        assert not ErasureRequest.objects.exists()


def test_request_is_recorded_audited_and_admins_are_told_without_names(commune, resident, admin):
    response = _request_erasure(commune, resident)
    assert response.status_code == 302
    follow = _client(commune, resident).get(reverse("core:erasure")).content.decode()
    assert "Votre demande est en cours" in follow
    with scope(commune=commune):
        [request] = ErasureRequest.objects.all()
        assert request.user_id == resident.pk and request.reason == "Je déménage."
        assert AuditEntry.objects.filter(action="core.privacy.erasure_requested", actor=resident).count() == 1
        told = list(Notification.objects.filter(recipient=admin, template="core/erasure_requested"))
    assert {n.channel for n in told} == {"in_app", "email"}
    for notification in told:
        assert "Quintonnet" not in notification.body and "Gaspard" not in notification.body
        assert notification.url == reverse("core:staff_erasures")


def test_asking_twice_keeps_one_request(commune, resident, admin):
    _request_erasure(commune, resident)
    _request_erasure(commune, resident)
    with scope(commune=commune):
        assert ErasureRequest.objects.count() == 1
        assert erasure_request_create(user=resident, commune=commune) == ErasureRequest.objects.get()


def test_only_erasure_handlers_see_the_requests(commune, resident, admin):
    agent = make_user(commune, Role.AGENT)
    assert _client(commune, resident).get(reverse("core:staff_erasures")).status_code == 403
    assert _client(commune, agent).get(reverse("core:staff_erasures")).status_code == 403
    _request_erasure(commune, resident)
    body = _client(commune, admin).get(reverse("core:staff_erasures")).content.decode()
    assert "Gaspard Quintonnet" in body and "Je déménage." in body
    with scope(commune=commune):
        request = ErasureRequest.objects.get()
    assert reverse("core:staff_erasure", args=[request.pk]) in body
    detail = _client(commune, admin).get(reverse("core:staff_erasure", args=[request.pk])).content.decode()
    assert (
        "gaspard@example.org" in detail
        and "Effacer ce compte" in detail
        and "Envoyer cette réponse" in detail
    )
    assert _client(commune, agent).get(reverse("core:staff_erasure", args=[request.pk])).status_code == 403


def test_a_request_of_another_commune_is_a_404(commune, other_commune, resident, admin):
    stranger = make_user(other_commune)
    with scope(commune=other_commune):
        foreign = erasure_request_create(user=stranger, commune=other_commune)
    response = _client(commune, admin).get(reverse("core:staff_erasure", args=[foreign.pk]))
    assert response.status_code == 404
    response = _client(commune, admin).post(
        reverse("core:staff_erasure", args=[foreign.pk]), {"action": "complete", "complete-confirm": "on"}
    )
    assert response.status_code == 404
    stranger.refresh_from_db()
    assert stranger.erased_at is None


def test_refusing_needs_an_answer_then_tells_the_person(commune, resident, admin):
    _request_erasure(commune, resident)
    with scope(commune=commune):
        request = ErasureRequest.objects.get()
    client = _client(commune, admin)
    url = reverse("core:staff_erasure", args=[request.pk])
    response = client.post(url, {"action": "refuse", "refuse-answer": "  "})
    assert response.status_code == 200
    assert "Écrivez une réponse pour la personne." in response.content.decode()
    request.refresh_from_db()
    assert request.status == ErasureRequest.Status.PENDING

    client.post(url, {"action": "refuse", "refuse-answer": "Votre inscription à l'atelier est en cours."})
    request.refresh_from_db()
    assert request.status == ErasureRequest.Status.REFUSED and request.handled_by_id == admin.pk
    with scope(commune=commune):
        told = Notification.objects.get(recipient=resident, template="core/erasure_refused", channel="in_app")
        assert AuditEntry.objects.filter(action="core.privacy.erasure_refused").count() == 1
    assert "Votre inscription à l'atelier est en cours." in told.body
    page = _client(commune, resident).get(reverse("core:erasure")).content.decode()
    assert "Votre inscription à l&#x27;atelier est en cours." in page
    resident.refresh_from_db()
    assert resident.erased_at is None and resident.is_active


def test_completing_needs_the_confirmation_box(commune, resident, admin):
    _request_erasure(commune, resident)
    with scope(commune=commune):
        request = ErasureRequest.objects.get()
    response = _client(commune, admin).post(
        reverse("core:staff_erasure", args=[request.pk]), {"action": "complete"}
    )
    assert response.status_code == 200
    assert "Cochez cette case pour confirmer l&#x27;effacement." in response.content.decode()
    resident.refresh_from_db()
    assert resident.erased_at is None


def test_nobody_handles_their_own_request(commune, admin):
    other_admin = make_user(commune, Role.ADMIN)
    _request_erasure(commune, admin)
    with scope(commune=commune):
        request = ErasureRequest.objects.get()
        with pytest.raises(ValidationError):
            erasure_complete(erasure_request=request, by=admin)
        neighbour = make_user(commune)
        with pytest.raises(PermissionDenied):
            erasure_complete(erasure_request=request, by=neighbour)
        notified = Notification.objects.filter(template="core/erasure_requested")
        assert {n.recipient_id for n in notified} == {other_admin.pk}  # not the person asking


def _dump() -> str:
    out = io.StringIO()
    with scopes_disabled():
        call_command("dumpdata", stdout=out)
    return out.getvalue()


def test_completing_erases_the_person_everywhere_and_keeps_the_log(
    commune, other_commune, resident, admin, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.EMAIL_BACKEND = "mairie.core.notifications.backends.OutboxEmailBackend"  # as in the demo
    agent = make_user(commune, Role.AGENT, first_name="Sophie", last_name="Lambert")
    handled = []

    def module_handler(user, each_commune):
        with scope(commune=each_commune):
            handled.append((user.pk, each_commune.pk, Membership.objects.filter(user=user).count()))

    monkeypatch.setattr(
        personal_data, "_ERASURE_HANDLERS", [*personal_data._ERASURE_HANDLERS, module_handler]
    )
    with scopes_disabled():
        Membership.objects.create(commune=other_commune, user=resident, role=Role.RESIDENT)
    # A life on the platform: signing in, a code by email, an accord with the town hall, messages.
    with django_capture_on_commit_callbacks(execute=True):
        assert _client(commune).post(
            reverse("core:login"), {"login": "gaspard@example.org", "password": PASSWORD}
        )["Location"]
        with scope(commune=commune):
            login_code_send(
                commune=commune, user=resident, purpose="login", channel="email", site_url="http://x/"
            )
            mandate = Mandate.objects.create(
                commune=commune,
                agent=agent,
                resident=resident,
                purpose="Inscription à l'atelier tablette",
                consent_method=Mandate.ConsentMethod.IN_PERSON,
                expires_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
            )
            log_action("core.account.updated", commune=commune, actor=agent, obj=resident, mandate=mandate)
    with scopes_disabled():
        assert OutboxMessage.objects.filter(to="gaspard@example.org").exists()
    resident_client = _client(commune, resident)
    _request_erasure(commune, resident)
    with scope(commune=commune):
        request = ErasureRequest.objects.get()
    admin_client = _client(commune, admin)
    with scopes_disabled():
        audit_before = AuditEntry.objects.count()
        resident_audit = AuditEntry.objects.filter(actor=resident).count()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("core:staff_erasure", args=[request.pk]), {"action": "complete", "complete-confirm": "on"}
        )
    assert response.status_code == 302

    resident.refresh_from_db()
    assert resident.pk == request.user_id
    assert (resident.first_name, resident.last_name, resident.email, resident.phone) == ("", "", None, None)
    assert resident.username == f"efface-{resident.pk}"
    assert not resident.is_active and not resident.has_usable_password() and resident.erased_at is not None
    assert str(resident) == "Personne effacée"
    request.refresh_from_db()
    assert request.status == ErasureRequest.Status.DONE and request.handled_by_id == admin.pk
    assert request.reason == ""

    with scopes_disabled():
        assert not Membership.objects.filter(user=resident).exists()
        assert not Notification.objects.filter(recipient=resident).exists()
        assert not LoginCode.objects.filter(user=resident).exists()
        assert Mandate.objects.get(pk=mandate.pk).revoked_at is not None
        # The log keeps every row, plus the erasure itself; the person's id still counts in it.
        assert AuditEntry.objects.count() == audit_before + 1
        assert AuditEntry.objects.filter(actor=resident).count() == resident_audit
        erased = AuditEntry.objects.get(action="core.privacy.erased")
    assert erased.actor_id == admin.pk and erased.object_id == str(resident.pk)
    assert sorted(c for _u, c, _n in handled) == sorted([commune.pk, other_commune.pk])
    assert all(user_id == resident.pk for user_id, _c, _n in handled)

    # Told once, by email, without the name.
    with scopes_disabled():
        [confirmation] = OutboxMessage.objects.filter(to="gaspard@example.org")
    assert confirmation.subject == "Votre compte a été effacé"
    assert "Gaspard" not in confirmation.body and "Quintonnet" not in confirmation.body

    # The name is nowhere in the platform's data; the address only in that last email.
    dump = _dump()
    assert "Gaspard" not in dump and "Quintonnet" not in dump
    assert dump.count("gaspard@example.org") == 1

    # Signed out, and no way back in (a failed try counts against the address typed).
    assert resident_client.get(reverse("core:account")).status_code == 302
    response = _client(commune).post(
        reverse("core:login"), {"login": "gaspard@example.org", "password": PASSWORD}
    )
    assert response.status_code == 200

    # What the person's data export says about that id now, and how the log reads for others.
    with scope(commune=commune):
        document = personal_data.export_document(resident, commune)
        [line] = history_lines(
            agent, commune, history_for(agent, commune).filter(action="core.account.updated")
        )
    assert "Gaspard" not in str(document) and "gaspard@example.org" not in str(document)
    assert line.by_whom == "Fait par vous pour Personne effacée"
    assert "Gaspard" not in admin_client.get(reverse("core:staff_erasures")).content.decode()


def test_operator_accounts_are_not_erased_from_a_commune(commune, admin):
    operator = make_user(commune)
    User.objects.filter(pk=operator.pk).update(is_superuser=True)
    operator.refresh_from_db()
    with scope(commune=commune):
        request = erasure_request_create(user=operator, commune=commune)
        with pytest.raises(ValidationError):
            erasure_complete(erasure_request=request, by=admin)
        with pytest.raises(ValidationError):
            erasure_refuse(erasure_request=request, by=admin, answer="")


def test_the_last_admin_of_a_commune_is_not_erased(commune, other_commune, admin):
    other_admin = make_user(commune, Role.ADMIN)
    with scopes_disabled():
        Membership.objects.create(commune=other_commune, user=admin, role=Role.ADMIN)  # alone there
    with scope(commune=commune):
        request = erasure_request_create(user=admin, commune=commune)
        with pytest.raises(ValidationError) as caught:
            erasure_complete(erasure_request=request, by=other_admin)
    assert "Mont-Clair" in caught.value.messages[0]
    admin.refresh_from_db()
    request.refresh_from_db()
    assert admin.erased_at is None and request.status == ErasureRequest.Status.PENDING
    with scopes_disabled():
        Membership.objects.create(commune=other_commune, user=make_user(other_commune), role=Role.ADMIN)
    with scope(commune=commune):
        erasure_complete(erasure_request=request, by=other_admin)
    admin.refresh_from_db()
    assert admin.erased_at is not None
