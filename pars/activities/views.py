"""The provider's activity list and activity pages: read, add, edit, copy, delete.

The form pages hand what the user entered to the one validator and show its field
errors; they check nothing themselves except what is particular to the web form:
"Add" never overwrites another activity, and a changed Provider Activity ID on
"Edit" renames the activity (see :func:`_save`).
"""

from __future__ import annotations

import io
import tempfile
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, prefetch_related_objects
from django.http import FileResponse, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.activities import file_export, services, year_lock
from pars.activities.forms import (
    EMPTY_SUPPORTER_ROWS,
    FIELD_GROUPS,
    LEGACY_GROUP,
    MAX_SUPPORTERS,
    MORE_SUPPORTER_ROWS,
    ActivityForm,
    attach_errors,
    display_groups,
    initial_from_activity,
    initial_supporters,
    raw_activity,
    supporter_formset,
    supporter_rows,
)
from pars.activities.models import Activity, ActivityFormat, ActivityStatus
from pars.activities.status_needs import StatusNeeds, activity_needs
from pars.activities.validation import CleanActivity, validate_activity
from pars.activities.xml_export import xml_file_response
from pars.intake.models import Channel
from pars.intake.rules import FieldError

SORTABLE = {"start_date", "-start_date", "title", "-title", "provider_activity_id", "status"}

# Errors of the web channel itself (not business rules, so not in validation.RULES).
ID_IN_USE = "web.provider_activity_id.in_use"
TSV_TYPE = "text/tab-separated-values; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filtered(access: ProviderAccess, params: Any) -> Any:
    """The provider's activities narrowed by the list's filters (year, format, status, q)."""
    activities = access.records(Activity)
    year = params.get("year", "")
    if year.isdigit():
        activities = activities.filter(reporting_year=int(year))
    activity_format = params.get("format", "")
    if activity_format in ActivityFormat.values:
        activities = activities.filter(activity_format=activity_format)
    status = params.get("status", "")
    if status in ActivityStatus.values:
        activities = activities.filter(status=status)
    query = params.get("q", "").strip()
    if query:
        activities = activities.filter(
            Q(title__icontains=query) | Q(provider_activity_id__icontains=query)
        )
    return activities


@provider_view()
def activity_export_xml(request: HttpRequest, access: ProviderAccess) -> HttpResponseBase:
    """The listed activities (with the list's filters) as a MEMS XML file that re-imports."""
    activities = _filtered(access, request.GET).order_by("provider_activity_id")
    year = request.GET.get("year", "")
    name = f"activities-{access.provider.provider_id}{'-' + year if year.isdigit() else ''}.xml"
    return xml_file_response(activities, name)


def _export_name(access: ProviderAccess, params: Any, extension: str) -> str:
    year = params.get("year", "")
    suffix = f"-{year}" if year.isdigit() else ""
    return f"activities-{access.provider.provider_id}{suffix}.{extension}"


def _export_rows(access: ProviderAccess, params: Any) -> tuple[Any, int]:
    """The listed activities, read in chunks with their supporters, and the most supporters
    one has (the file's supporter blocks)."""
    activities = _filtered(access, params).order_by("provider_activity_id")
    most = file_export.max_supporters(activities)
    return activities.prefetch_related("supporters").iterator(chunk_size=2000), most


@provider_view()
def activity_export_tsv(request: HttpRequest, access: ProviderAccess) -> HttpResponseBase:
    """The listed activities (with the list's filters) in the current tab-delimited layout."""
    activities, most = _export_rows(access, request.GET)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    file_export.write_activities_tsv(text, activities, supporters=most)
    text.flush()
    text.detach()
    spool.seek(0)  # the response closes it
    name = _export_name(access, request.GET, "txt")
    return FileResponse(spool, as_attachment=True, filename=name, content_type=TSV_TYPE)


@provider_view()
def activity_export_xlsx(request: HttpRequest, access: ProviderAccess) -> HttpResponseBase:
    """The listed activities in the Excel upload template (its columns and drop-downs)."""
    activities, most = _export_rows(access, request.GET)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    file_export.write_activities_xlsx(spool, activities, supporters=most)
    spool.seek(0)
    name = _export_name(access, request.GET, "xlsx")
    return FileResponse(spool, as_attachment=True, filename=name, content_type=XLSX_TYPE)


@provider_view()
def activity_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    years = sorted(
        set(access.records(Activity).values_list("reporting_year", flat=True)), reverse=True
    )
    activities = _filtered(access, request.GET)
    year = request.GET.get("year", "")
    activity_format = request.GET.get("format", "")
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "-start_date")
    activities = activities.order_by(sort if sort in SORTABLE else "-start_date", "pk")
    page = Paginator(activities, 50).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    prefetch_related_objects(rows, "supporters")
    for row in rows:
        row.needs = activity_needs(row)  # for the "needs N fields" hint
    page.object_list = rows
    shown_years = {row.reporting_year for row in page.object_list}
    context = {
        "access": access,
        "closures": sorted(
            year_lock.closures(access.provider, shown_years).values(), key=lambda c: -c.year
        ),
        "support_email": settings.PARS_SUPPORT_EMAIL,
        "page": page,
        "years": years,
        "year": year,
        "formats": ActivityFormat.choices,
        "statuses": ActivityStatus.choices,
        "activity_format": activity_format,
        "status": status,
        "query": query,
        "sort": sort,
    }
    template = "activities/_results.html" if request.htmx else "activities/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@provider_view()
def activity_detail(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    activity = access.get(Activity, pk=pk)
    return render(
        request,
        "activities/detail.html",
        {
            "access": access,
            "activity": activity,
            "groups": display_groups(activity),
            "supporters": supporter_rows(activity),
            "closure": _closure(access, activity),
            "needs": _needs(activity_needs(activity)),
            "support_email": settings.PARS_SUPPORT_EMAIL,
        },
    )


def _needs(needs: StatusNeeds) -> dict[str, Any] | None:
    """What the page says the activity lacks for its next status (None once closed)."""
    if needs.next_status is None:
        return None
    goal = "close this activity" if needs.next_status == "closed" else "make it Active"
    return {"goal": goal, "missing": needs.missing}


def _closure(access: ProviderAccess, activity: Activity) -> year_lock.Closure | None:
    """The attestation that closed the activity's year, if it is closed."""
    year = activity.reporting_year
    return year_lock.closures(access.provider, [year]).get(year)


def _closed(
    request: HttpRequest, access: ProviderAccess, activity: Activity
) -> HttpResponse | None:
    """A closed year's activity is read-only: its edit and delete pages lead back to it.
    (A form sent anyway reaches the writer, which refuses it with the locked-year rule.)"""
    if request.method != "GET":
        return None
    closure = _closure(access, activity)
    if closure is None:
        return None
    messages.info(
        request,
        f"Activity {activity.provider_activity_id} belongs to the attested {closure.year} "
        "report, which is closed: it can no longer change.",
    )
    return redirect("activities:detail", provider_id=access.provider.provider_id, pk=activity.pk)


@provider_view(edit=True)
def activity_new(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    return _form_page(request, access)


@provider_view(edit=True)
def activity_edit(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    activity = access.get(Activity, pk=pk)
    return _closed(request, access, activity) or _form_page(request, access, activity=activity)


@provider_view(edit=True)
def activity_copy(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    """A new activity pre-filled from another one, without its Provider and ACCME IDs."""
    return _form_page(request, access, source=access.get(Activity, pk=pk))


@provider_view(edit=True)
def activity_delete(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    activity = access.get(Activity, pk=pk)
    closed = _closed(request, access, activity)
    if closed is not None:
        return closed
    refused: list[FieldError] = []
    if request.method == "POST":
        try:
            services.delete_activity(access, activity, channel=Channel.WEB)
        except services.ActivityRefused as refusal:
            refused = refusal.errors
        else:
            messages.success(request, f"Activity {activity.provider_activity_id} deleted.")
            return redirect("activities:list", provider_id=access.provider.provider_id)
    return render(
        request,
        "activities/delete.html",
        {"access": access, "activity": activity, "refused": refused},
        status=400 if refused else 200,
    )


def _form_page(
    request: HttpRequest,
    access: ProviderAccess,
    *,
    activity: Activity | None = None,
    source: Activity | None = None,
) -> HttpResponse:
    base = activity or source
    legacy_code = base.legacy_activity_type if base else ""
    summary: list[Any] = []
    status = 200
    if request.method == "POST":
        data: QueryDict = request.POST
        more_rows = "_more_supporters" in data
        if more_rows:
            data = data.copy()
            total = _int(data.get("supporters-TOTAL_FORMS"))
            data["supporters-TOTAL_FORMS"] = str(min(total + MORE_SUPPORTER_ROWS, MAX_SUPPORTERS))
        form = ActivityForm(data, legacy_code=legacy_code)
        formset = supporter_formset(data)
        form.is_valid()  # the fields accept anything: this only collects the values
        rows_ok = formset.is_valid() or not formset.non_form_errors()
        if not more_rows and rows_ok:
            record, errors = validate_activity(
                raw_activity(form, formset), closed_years=year_lock.locked_years(access.provider)
            )
            errors += _id_errors(access, activity, form.cleaned_data.get("provider_activity_id"))
            saved = None
            if record is not None and not errors:
                try:
                    saved = _save(access, record, activity)
                except services.ActivityRefused as refused:
                    errors = refused.errors
            if saved is not None:
                messages.success(
                    request,
                    f"Activity {saved.provider_activity_id} saved as {saved.get_status_display()}.",
                )
                return redirect(
                    "activities:detail", provider_id=access.provider.provider_id, pk=saved.pk
                )
            summary = attach_errors(form, formset, errors)
            status = 400
        elif not rows_ok:
            status = 400
    else:
        initial = initial_from_activity(base, copy=source is not None) if base else None
        supporters = initial_supporters(base) if base else []
        form = ActivityForm(initial=initial, legacy_code=legacy_code)
        formset = supporter_formset(initial=supporters, extra=EMPTY_SUPPORTER_ROWS)
    context = {
        "access": access,
        "activity": activity,
        "source": source,
        "form": form,
        "formset": formset,
        "groups": _form_groups(form),
        "summary": summary,
    }
    return render(request, "activities/form.html", context, status=status)


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _id_errors(access: ProviderAccess, activity: Activity | None, entered: Any) -> list[FieldError]:
    """The web form adds and renames, it never overwrites: the new ID must be free."""
    new_id = str(entered or "").strip()
    if not new_id or (activity is not None and new_id == activity.provider_activity_id):
        return []
    if not access.records(Activity).filter(provider_activity_id=new_id).exists():
        return []
    message = (
        f"Another activity already has the Provider Activity ID {new_id!r}; "
        "choose a different ID, or edit that activity."
    )
    return [FieldError(None, "provider_activity_id", ID_IN_USE, message)]


def _save(access: ProviderAccess, record: CleanActivity, activity: Activity | None) -> Activity:
    """Write through the service; a changed ID on edit renames the activity.

    Activities are keyed by Provider Activity ID (that is how files and the API
    update them), so a rename writes the record under its new ID and deletes the
    old one, in one transaction: the activity gets a new page address.
    """
    with transaction.atomic():
        saved = services.save_activity(access, record, channel=Channel.WEB)
        if activity is not None and activity.provider_activity_id != record.provider_activity_id:
            services.delete_activity(access, activity)
    return saved


def _form_groups(form: ActivityForm) -> list[dict[str, Any]]:
    groups = []
    for name, field_names in FIELD_GROUPS.items():
        fields = [form[field] for field in field_names if field != "supporters"]
        legacy = name == LEGACY_GROUP
        groups.append(
            {
                "name": name,
                "fields": fields,
                "supporters": "supporters" in field_names,
                "legacy": legacy,
                "open": not legacy or any(f.errors or _has_value(f.value()) for f in fields),
            }
        )
    return groups


def _has_value(value: Any) -> bool:
    return value not in (None, "", [], ())
