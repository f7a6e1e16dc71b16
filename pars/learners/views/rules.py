"""The published learner rule catalog (public, like the activity one): every rule the
learner validator and writer apply, and what each recipient asks of a record."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME
from pars.learners.models import RecipientKind
from pars.learners.validation import RULES, load_recipients


def field_label(name: str) -> str:
    """A rule's field as the user knows it (the dictionary's label where it has one)."""
    spec = COMPLETION_FIELDS_BY_NAME.get(name)
    if spec is not None:
        return str(spec.label)
    if name == "row":
        return "The whole record"
    return name.replace("_", " ").capitalize()


@require_GET
def rule_catalogue(request: HttpRequest) -> HttpResponse:
    rows = [{"rule": rule, "label": field_label(rule.field)} for rule in RULES.values()]
    recipients = [
        {"r": recipient, "kind": RecipientKind(recipient.kind).label}
        for recipient in sorted(load_recipients().values(), key=lambda r: (r.kind, r.state, r.code))
    ]
    return render(request, "learners/rules.html", {"rows": rows, "recipients": recipients})
