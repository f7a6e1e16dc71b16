"""An activity's registrations with recipients: register, change, delete."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.activities.models import Activity
from pars.intake.models import Channel
from pars.intake.rules import FieldError
from pars.learners import services
from pars.learners.forms import RegistrationForm, attach_errors, registration_initial
from pars.learners.models import ActivityRegistration, Recipient
from pars.learners.validation import load_recipients, validate_registration
from pars.learners.views.common import activity_registration, closed_year_note, provider_url


def _recipient(code: str) -> Recipient:
    """An active recipient (recipients are not provider data: one table for everyone)."""
    recipient = Recipient.objects.filter(code=code, active=True).first()
    if recipient is None:
        raise Http404("No such recipient.")
    return recipient


@provider_view(edit=True)
def registration_new(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    """Choose the recipient to register the activity with (then its form)."""
    activity = access.get(Activity, pk=pk)
    registered = set(
        access.records(ActivityRegistration)
        .filter(activity=activity)
        .values_list("recipient__code", flat=True)
    )
    recipients = Recipient.objects.filter(active=True).exclude(code__in=registered)
    code = request.GET.get("recipient", "")
    if code and recipients.filter(code=code).exists():
        return redirect(provider_url("learners:registration", access, pk=activity.pk, code=code))
    return render(
        request,
        "learners/registration_choose.html",
        {"access": access, "activity": activity, "recipients": recipients},
    )


@provider_view()
def registration_edit(
    request: HttpRequest, access: ProviderAccess, pk: int, code: str
) -> HttpResponse:
    """Register the activity with one recipient, or change its registration (attested)."""
    activity = access.get(Activity, pk=pk)
    registration = activity_registration(access, activity, code)
    recipient = registration.recipient if registration else _recipient(code)
    summary: list[Any] = []
    status = 200
    if request.method == "POST":
        access.require_edit()
        form = RegistrationForm(request.POST, recipient=recipient)
        form.is_valid()  # the fields accept anything: this only collects the values
        clean, errors = validate_registration(
            form.raw(),
            recipients=load_recipients(include_inactive=registration is not None),
            ama_credits=activity.ama_credits,
        )
        if clean is not None and not errors:
            try:
                services.save_registration(access, activity, clean, channel=Channel.WEB)
            except services.RegistrationRefused as refused:
                errors = refused.errors
            else:
                messages.success(
                    request,
                    f"Activity {activity.provider_activity_id} is registered with "
                    f"{recipient.code}.",
                )
                return redirect(
                    provider_url("activities:detail", access, pk=activity.pk) + "#registrations"
                )
        summary = attach_errors(form, errors)
        status = 400
    else:
        initial = registration_initial(registration) if registration else None
        form = RegistrationForm(initial=initial, recipient=recipient)
    return render(
        request,
        "learners/registration_form.html",
        {
            "access": access,
            "activity": activity,
            "recipient": recipient,
            "registration": registration,
            "form": form,
            "summary": summary,
            **closed_year_note(access, {activity.reporting_year}, recipient.code),
        },
        status=status,
    )


@provider_view(edit=True)
def registration_delete(
    request: HttpRequest, access: ProviderAccess, pk: int, code: str
) -> HttpResponse:
    activity = access.get(Activity, pk=pk)
    registration = activity_registration(access, activity, code)
    if registration is None:
        raise Http404("The activity is not registered with this recipient.")
    refused: list[FieldError] = []
    if request.method == "POST":
        try:
            services.delete_registration(access, registration, channel=Channel.WEB)
        except services.RegistrationRefused as refusal:
            refused = refusal.errors
        else:
            messages.success(
                request,
                f"Activity {activity.provider_activity_id} is no longer registered with {code}.",
            )
            return redirect(
                provider_url("activities:detail", access, pk=activity.pk) + "#registrations"
            )
    return render(
        request,
        "learners/registration_delete.html",
        {
            "access": access,
            "activity": activity,
            "registration": registration,
            "refused": refused,
            **closed_year_note(access, {activity.reporting_year}, registration.recipient.code),
        },
        status=400 if refused else 200,
    )
