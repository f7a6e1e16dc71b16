"""A sandbox per provider: a separate tenant that integrators rehearse against.

The sandbox is its own :class:`~pars.providers.models.Provider` row (``sandbox_of`` the
live provider), so every tenancy rule applies to it unchanged: a test key
(``pars_test_…``) belongs to the sandbox and reaches only its rows, a live key only the
live provider's. Nobody is a member of a sandbox, so no page of the workspace shows it;
cross-provider reads (staff lists, data reports, research data, REMS report) leave it out
(``Provider.objects.live()``, ``live_rows()``) and its learner records go to the registry
simulator, never to a board (pars.learners.delivery).

The provider's administrators manage it on the sandbox page: create it empty or seeded
with copies of the live provider's activities (no learner data), reset it (every row of
it deleted; test keys kept), create and revoke test keys. Seeding and reset run in the
request: a seed copies at most ``SEED_LIMIT`` activities, the newest first.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import messages
from django.db import transaction
from django.db.models import Model, ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from pars.accounts import services as account_services
from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.accounts.forms import ApiKeyForm
from pars.accounts.models import ApiKey, Membership
from pars.activities.models import Activity, CommercialSupport
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.intake.models import Channel
from pars.providers.models import Provider

SEED_LIMIT = 2000
# Kept on reset: the credentials of the sandbox, not its data.
_KEPT_ON_RESET: set[type[Model]] = {ApiKey, Membership}


def sandbox_of(provider: Provider) -> Provider | None:
    return Provider.objects.filter(sandbox_of=provider).first()


def sandbox_access(access: ProviderAccess) -> ProviderAccess | None:
    """The same person's access to the sandbox of the provider they manage, if it exists."""
    sandbox = sandbox_of(access.provider)
    if sandbox is None:
        return None
    return ProviderAccess(
        provider=sandbox, user=access.user, role=access.role, is_staff=access.is_staff
    )


def sandbox_provider_id(provider: Provider) -> str:
    """The sandbox's provider ID: "S" and six digits, never a real (all-digit) PARS ID."""
    return f"S{provider.pk % 1_000_000:06d}"


@transaction.atomic
def create_sandbox(provider: Provider, *, seed: bool = False) -> Provider:
    """The provider's sandbox (created if missing), optionally seeded with its activities."""
    if provider.is_sandbox:
        raise ValueError("A sandbox has no sandbox.")
    # Locks the live provider: two administrators creating at once make one sandbox.
    Provider.objects.select_for_update().filter(pk=provider.pk).first()
    sandbox = sandbox_of(provider)
    if sandbox is None:
        sandbox = Provider.objects.create(
            sandbox_of=provider,
            provider_id=sandbox_provider_id(provider),
            name=f"{provider.name} (sandbox)",
            accreditor_type=provider.accreditor_type,
            recognized_accreditor=provider.recognized_accreditor,
            accreditation_status=provider.accreditation_status,
            term_start=provider.term_start,
            term_end=provider.term_end,
            state=provider.state,
            country=provider.country,
        )
    if seed:
        seed_sandbox(sandbox)
    return sandbox


def seed_sandbox(sandbox: Provider) -> int:
    """Copy the live provider's activities (and their commercial supporters) into the
    sandbox, replacing any with the same Provider Activity ID; returns how many."""
    live = sandbox.sandbox_of
    assert live is not None, "only a sandbox is seeded"
    # The live provider's rows, read through its one door (a system access: no user).
    reading = ProviderAccess(provider=live, user=None, role=None)
    sources = list(reading.records(Activity).order_by("-start_date", "pk")[:SEED_LIMIT])
    ids = [activity.provider_activity_id for activity in sources]
    with transaction.atomic():
        _delete_rows(sandbox, only_activities=ids)
        supporters: dict[int, list[CommercialSupport]] = {}
        for support in reading.records(CommercialSupport).filter(activity__in=sources):
            supporters.setdefault(support.activity_id, []).append(support)
        copies = []
        for source in sources:  # each read once: the fetched row becomes its copy
            copy, source_pk = source, source.pk
            copy.pk = None
            copy.provider = sandbox
            copy.accme_activity_id = ""  # assigned by PARS to live records only
            copy.created_by_event = None
            copies.append((source_pk, copy))
        Activity.objects.bulk_create([copy for _, copy in copies])
        new_supporters = []
        for source_pk, copy in copies:
            for support in supporters.get(source_pk, []):
                support.pk = None
                support.provider = sandbox
                support.activity = copy
                new_supporters.append(support)
        CommercialSupport.objects.bulk_create(new_supporters)
    return len(copies)


def reset_sandbox(sandbox: Provider) -> None:
    """Delete every row of the sandbox (its test keys stay valid)."""
    assert sandbox.is_sandbox, "only a sandbox is reset"
    with transaction.atomic():
        _delete_rows(sandbox)


def _owned_models() -> list[type[Model]]:
    return [
        model
        for model in apps.get_models()
        if model is not Provider
        and model not in _KEPT_ON_RESET
        and any(
            field.name == "provider" and field.many_to_one for field in model._meta.get_fields()
        )
    ]


def _delete_rows(sandbox: Provider, only_activities: list[str] | None = None) -> None:
    """Every provider-owned row of the sandbox (or only these activities, and what hangs
    on them), in an order the protecting foreign keys allow."""
    owner = ProviderAccess(provider=sandbox, user=None, role=None)
    if only_activities is not None:
        activities = owner.records(Activity).filter(provider_activity_id__in=only_activities)
        pending: list[tuple[type[Model], dict[str, object]]] = [
            (model, {"activity__in": activities})
            for model in _owned_models()
            if model is not Activity
            and any(field.name == "activity" for field in model._meta.get_fields())
        ]
        pending.append((Activity, {"pk__in": activities}))
    else:
        pending = [(model, {}) for model in _owned_models()]
    while pending:
        blocked = []
        for model, lookup in pending:
            try:
                with transaction.atomic():
                    owner.records(model).filter(**lookup).delete()
            except (ProtectedError, RestrictedError):
                blocked.append((model, lookup))
        if len(blocked) == len(pending):
            raise RuntimeError(f"Cannot delete the sandbox's {blocked[0][0].__name__} rows.")
        pending = blocked


def _contents(inside: ProviderAccess | None) -> tuple[list[ApiKey], int]:
    """The sandbox's test keys (newest first) and how many activities it holds."""
    if inside is None:
        return [], 0
    return list(inside.records(ApiKey).order_by("-created_at")), inside.records(Activity).count()


def _audit(access: ProviderAccess, action: str, description: str, **details: object) -> None:
    """On the live provider's audit trail: who made, reset or keyed its sandbox, and when."""
    record_event(access, action, channel=Channel.WEB, description=description, details=details)


@provider_view(manage_users=True)
def sandbox_page(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """The provider's sandbox and its test keys (administrators only)."""
    if access.provider.is_sandbox:  # not reachable (no one is a member), but never nest
        raise Http404("No such page.")
    sandbox = sandbox_of(access.provider)
    form = ApiKeyForm()
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action in ("create", "seed"):
            existed = sandbox is not None
            sandbox = create_sandbox(access.provider, seed=action == "seed")
            what = "seeded with your activities" if action == "seed" else "ready"
            done = "seeded" if action == "seed" else "created"
            if existed and action == "seed":
                done = "seeded again"
            _audit(
                access,
                AuditAction.SANDBOX_CHANGED,
                f"Sandbox {sandbox.provider_id} {done}.",
                sandbox=sandbox.provider_id,
                change=done,
            )
            messages.success(request, f"Your sandbox is {what}.")
        elif sandbox is not None and action == "reset":
            reset_sandbox(sandbox)
            _audit(
                access,
                AuditAction.SANDBOX_CHANGED,
                f"Sandbox {sandbox.provider_id} reset (all its data deleted).",
                sandbox=sandbox.provider_id,
                change="reset",
            )
            messages.success(request, "Your sandbox is empty again; its test keys still work.")
        elif sandbox is not None and action == "key":
            form = ApiKeyForm(request.POST)
            if form.is_valid():
                made, new_key = account_services.create_api_key(
                    provider=sandbox, name=form.cleaned_data["name"], created_by=access.user
                )
                _audit(
                    access,
                    AuditAction.TEST_KEY_CHANGED,
                    f"Test key {made.prefix}… “{made.name}” created.",
                    key=made.prefix,
                    change="created",
                )
                form = ApiKeyForm()
        elif sandbox is not None and action == "revoke":
            inner = sandbox_access(access)
            assert inner is not None
            pk = request.POST.get("key", "")
            key = inner.get(ApiKey, pk=int(pk) if pk.isdigit() else 0)
            if key.revoked_at is None:
                account_services.revoke_api_key(key)
                _audit(
                    access,
                    AuditAction.TEST_KEY_CHANGED,
                    f"Test key {key.prefix}… “{key.name}” revoked.",
                    key=key.prefix,
                    change="revoked",
                )
            messages.success(request, f"Test key {key.prefix}… is revoked.")
        if new_key is None and not form.errors:  # shown once, or the form's errors
            return redirect("activities:sandbox", provider_id=access.provider.provider_id)
    keys, activities = _contents(sandbox_access(access) if sandbox else None)
    return render(
        request,
        "activities/sandbox.html",
        {
            "access": access,
            "sandbox": sandbox,
            "keys": keys,
            "form": form,
            "new_key": new_key,
            "activities": activities,
            "seed_limit": SEED_LIMIT,
        },
    )
