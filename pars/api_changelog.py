"""The web service's changelog, served at /api/v1/changelog (docs/api-changelog.md says
the same in prose; tests/test_api_changelog.py keeps the two together).

Newest first. Each change says what an integrator sees: `kind` is added, changed,
deprecated or removed; `breaking` says whether a client built for the version before
needs a change (a generated client needs regenerating, see the entry).
"""

from __future__ import annotations

from typing import Any

POLICY = (
    "Version 1 (/api/v1) changes only by additions: new operations, new optional fields "
    "and parameters, new codes in a list. An operation to be replaced is deprecated first: "
    "it keeps answering, marked `deprecated` in the OpenAPI description and with the "
    "`Deprecation`, `Sunset` and `Link` headers on every answer, for at least 12 months "
    "after its successor is released (its Sunset date). A version lives at least 12 months "
    "after its successor version is released. Every change is listed here first. The "
    "policy holds from the contract's first publication on 2026-12-06: the two breaking "
    "entries of that day named the operations and schemas generated clients take, before "
    "any client was built against them; no later change to version 1 breaks a client."
)

CHANGES: list[dict[str, Any]] = [
    {
        "date": "2026-12-06",
        "version": "1",
        "changes": [
            {
                "kind": "changed",
                "breaking": True,
                "summary": "Every operation has a short, stable camelCase operationId "
                "(listActivities, createActivity, getActivity, putActivity, deleteActivity, "
                "uploadActivityFile, getUpload, postLearnerCompletions, …) instead of the "
                "server's module and function names.",
                "regenerate": True,
            },
            {
                "kind": "changed",
                "breaking": True,
                "summary": "Request bodies are named component schemas reused by every "
                "operation that takes them (ActivityIn, LearnerCompletionIn, "
                "LearnerCompletionBatch, RegistrationIn, ActivityFileIn…); the answers' "
                "schemas lost their Out suffix (Activity, Upload, LearnerCompletion) and the "
                "error shape is ApiError.",
                "regenerate": True,
            },
            {
                "kind": "added",
                "breaking": False,
                "summary": "The activity's code lists are enums in the answers as in the "
                "requests, each code's label in x-enum-descriptions; every request body and "
                "every answer schema has an example.",
            },
            {
                "kind": "added",
                "breaking": False,
                "summary": "An activity's answers carry its version as an ETag; POST, PUT "
                "and DELETE of an activity take If-Match and answer 412 (rule "
                "api.precondition_failed) when it changed since it was read, so two systems "
                "cannot silently overwrite each other.",
            },
            {
                "kind": "added",
                "breaking": False,
                "summary": "Registrations, learner completions, annual reports and webhook "
                "endpoints carry an ETag too (new GET of one registration and of one webhook "
                "endpoint); their PUT, PATCH, DELETE, withdraw, resubmit, program summary "
                "and attestation take If-Match and answer 412 (rule "
                "api.precondition_failed) on a stale version.",
            },
            {
                "kind": "added",
                "breaking": False,
                "summary": "GET /api/v1/activities pages with a cursor: a Link header "
                "(rel=next) gives the next page's address; limit and offset still work. "
                "GET /api/v1/learner-completions, already paged by cursor, sends the same "
                "Link header.",
            },
            {
                "kind": "added",
                "breaking": False,
                "summary": "Dry runs: every write (POST and PUT of an activity, POST "
                "/api/v1/learner-completions, both file uploads) takes dry_run=true and "
                "answers what the real request would, writing nothing; an upload checked "
                "so says dry_run: true and is never applied.",
            },
            {
                "kind": "added",
                "breaking": False,
                "summary": "Test keys (pars_test_…) act on the provider's sandbox; every answer "
                "carries X-PARS-Environment: live or sandbox.",
            },
            {
                "kind": "changed",
                "breaking": False,
                "summary": "An upload's errors speak the file's words: `message` names the "
                "field by the file's own column header, and `column` holds the template's "
                "header for a field the file has no column for; `field` and `rule` are "
                "unchanged.",
            },
            {
                "kind": "added",
                "breaking": False,
                "summary": "An upload's answers (the 202 of both file uploads and GET "
                "/api/v1/uploads/{id}) carry its number and title: activity files and "
                'learner files are numbered apart, "Activity upload #3", "Learner upload '
                '#1", as the pages name them; `id` stays the address.',
            },
            {
                "kind": "added",
                "breaking": False,
                "summary": "This changelog (GET /api/v1/changelog) and the deprecation "
                "policy: Deprecation, Sunset and Link headers on deprecated operations.",
            },
            {
                "kind": "changed",
                "breaking": False,
                "summary": "Learner completions and registrations of an activity whose "
                "reporting year the provider has attested are read-only: a new completion, "
                "correction, resubmission, withdrawal or registration change is refused with "
                "the new rule learner.reporting_year.locked (per record in a batch or file, "
                "400 for one record, 409 for removing a registration), unless the recipient "
                "accepts completions after attestation; the same record sent again is "
                "unchanged.",
            },
        ],
    },
]


def changelog() -> dict[str, Any]:
    return {"policy": POLICY, "docs": "docs/api-changelog.md", "releases": CHANGES}
