"""Pre-validation: learners checked against a recipient's registry, nothing stored."""

from __future__ import annotations

import io
import itertools
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.intake.readers import FileRejected, ParsedRow
from pars.intake.readers.delimited import read_records
from pars.intake.readers.xlsx import XlsxLimits
from pars.learners.forms import PrevalidationForm
from pars.learners.models import Recipient
from pars.learners.parsers import rows_from_cells
from pars.learners.parsers.xlsx import read_learner_xlsx
from pars.learners.prevalidation import MAX_LEARNERS, prevalidate
from pars.learners.views.common import field_label

# Pre-validation reads its list inside the request, so the list must be small: a file
# of at most 1 MB and, for Excel, a workbook that expands to at most 8 MB with at most
# 50,000 shared strings (1,000 learners take far less). Everything else is refused
# before it is inflated; big files belong in a learner upload (a background job).
PREVALIDATION_MAX_BYTES = 1024 * 1024
PREVALIDATION_MAX_XLSX_BYTES = 8 * 1024 * 1024
PREVALIDATION_MAX_SHARED_STRINGS = 50_000
_NEEDED_COLUMNS = frozenset({"first_name", "last_name"})


@dataclass(frozen=True)
class TypedLearner:
    """One learner of the list as typed (row number in the list, the name typed)."""

    row: int
    name: str
    data: dict[str, Any]
    problem: str = ""


@dataclass(frozen=True)
class MatchRow:
    row: int
    name: str
    status: str
    label: str
    message: str
    fields: str


MATCH_LABELS = {
    "match": "Match",
    "mismatch": "Mismatch",
    "not_found": "Not found",
    "invalid": "Invalid",
}


def _table(rows: Iterator[ParsedRow]) -> Iterator[TypedLearner]:
    """Learners of a header-led table; the header names columns as learner files do."""
    for parsed in rows:
        data = {name: value for name, value in parsed.data.items() if str(value).strip()}
        typed = " ".join(
            str(data.get(key, "")).strip() for key in ("first_name", "last_name")
        ).strip()
        yield TypedLearner(parsed.row, typed, data, parsed.problem or "")


def _xlsx_learners(uploaded: UploadedFile, limit: int) -> list[TypedLearner]:
    """The learners of an Excel list, read by the learner file parser (the same checks,
    with the smaller limits of a list read in a request)."""
    limits = XlsxLimits.from_settings().at_most(
        PREVALIDATION_MAX_XLSX_BYTES, PREVALIDATION_MAX_SHARED_STRINGS
    )
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as local:
        for chunk in uploaded.chunks():
            local.write(chunk)
        local.flush()
        rows = read_learner_xlsx(local.name, required=_NEEDED_COLUMNS, limits=limits)
        try:
            return list(itertools.islice(_table(rows), limit + 1))
        finally:
            rows.close()  # stopped early: the workbook's files are closed now


def _max_learners() -> int:
    return MAX_LEARNERS


def _typed_learners(form: PrevalidationForm) -> list[TypedLearner]:
    """The learners of the pasted text or the file; FileRejected when they cannot be read."""
    uploaded = form.cleaned_data.get("file")
    text = form.cleaned_data.get("learners") or ""
    if uploaded is not None:
        if uploaded.size > PREVALIDATION_MAX_BYTES:
            raise FileRejected(
                "The file is larger than 1 MB: pre-validate at most 1,000 learners at a time "
                "(a bigger file belongs in a learner upload)."
            )
        head = uploaded.read(4)
        uploaded.seek(0)
        if head.startswith(b"PK\x03\x04"):
            return _checked(_xlsx_learners(uploaded, _max_learners()))
        records = read_records(io.BytesIO(uploaded.read()))
    elif text.strip():
        records = read_records(io.BytesIO(text.encode("utf-8")))
    else:
        raise FileRejected("Paste the learners (with their header row) or choose a file.")
    rows = rows_from_cells(records, what="list", required=_NEEDED_COLUMNS)
    return _checked(list(itertools.islice(_table(rows), _max_learners() + 1)))


def _checked(learners: list[TypedLearner]) -> list[TypedLearner]:
    limit = _max_learners()
    if not learners:
        raise FileRejected("The list has a header row but no learners.")
    if len(learners) > limit:
        raise FileRejected(
            f"The list has more than {limit:,} learners; pre-validate at most {limit:,} at a time."
        )
    return learners


def _match_rows(access: ProviderAccess, code: str, learners: list[TypedLearner]) -> list[MatchRow]:
    readable = [learner for learner in learners if not learner.problem]
    results = prevalidate(access, code, [learner.data for learner in readable]) if readable else []
    by_learner = {id(learner): result for learner, result in zip(readable, results, strict=False)}
    rows = []
    for learner in learners:
        result = by_learner.get(id(learner))
        if result is None:
            status, message, fields = "invalid", learner.problem or "Not checked.", ""
        else:
            status, message = result.status, result.message
            fields = ", ".join(field_label(name) for name in result.fields)
        rows.append(
            MatchRow(
                learner.row,
                learner.name or "—",
                status,
                MATCH_LABELS.get(status, status),
                message,
                fields,
            )
        )
    return rows


@provider_view()
def prevalidation(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """Check learners against a recipient's registry before reporting their completions.

    Nothing is stored, and the results name each learner only by the row number and
    the name typed in this same request; no identifier or birth date is shown back.
    """
    recipients = Recipient.objects.filter(active=True, matches_learners=True)
    form = PrevalidationForm(recipients=recipients)
    rows: list[MatchRow] = []
    status = 200
    if request.method == "POST":
        access.require_edit()
        form = PrevalidationForm(request.POST, request.FILES, recipients=recipients)
        if form.is_valid():
            try:
                learners = _typed_learners(form)
            except FileRejected as rejected:
                form.add_error(
                    "file" if form.cleaned_data.get("file") else "learners", rejected.message
                )
            else:
                try:
                    rows = _match_rows(access, form.cleaned_data["recipient"], learners)
                except ValueError as refused:  # unknown recipient, or it cannot match now
                    form.add_error("recipient", str(refused))
        if form.errors:
            status = 400
    counts = {key: sum(1 for row in rows if row.status == key) for key in MATCH_LABELS}
    response = render(
        request,
        "learners/prevalidate.html",
        {
            "access": access,
            "form": form,
            "rows": rows,
            "counts": [(MATCH_LABELS[key], key, count) for key, count in counts.items()],
            "max_learners": _max_learners(),
        },
        status=status,
    )
    add_never_cache_headers(response)  # what was typed stays out of caches
    return response
