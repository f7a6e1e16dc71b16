"""One validator, one writer: the same bad learner record gets the same errors from the JSON
web service as from a learner file."""

from collections import defaultdict
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.intake.models import UploadError
from pars.intake.store import store_upload
from pars.learners.models import LearnerCompletion
from pars.providers.models import Provider
from pars.testing import as_json_record, learner_row, make_activity, register
from tests.learners.test_api import Api


def tsv(rows: list[dict[str, Any]]) -> bytes:
    header = list(dict.fromkeys(name for row in rows for name in row))
    lines = ["\t".join(header)]
    lines += ["\t".join(str(row.get(name, "")) for name in header) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def test_the_same_bad_records_get_the_same_errors_from_the_api_and_a_file(
    provider: Provider, editor: User
) -> None:
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    unregistered = make_activity(provider, provider_activity_id="GR-2")
    no_moc = {"moc_points": "", "moc_credit_types": ""}
    records = [
        # The validator's rules ...
        learner_row(
            activity, birth_date="13-01", learner_id="12AB", moc_points="2.1", npi="1234567890"
        ),
        learner_row(activity, first_name="", completion_date="2027-01-01", action="Update"),
        learner_row(activity, recipient="NC", learner_id="", license_state="ME", **no_moc),
        learner_row(activity, recipient="REMS", learner_id="L-1", **no_moc),
        learner_row(activity, moc_credit_types="Lifelong Learning", cme_credits="-1"),
        # ... and the writer's.
        learner_row(activity, learner_id="100001", moc_points="12"),
        learner_row(unregistered, learner_id="100002"),
        learner_row(activity, learner_id="100003", completion_date="2026-02-01"),
        learner_row(activity, learner_id="100004", provider_activity_id="NOPE"),
        learner_row(activity, learner_id="100005", action="delete"),
        # A good one, so that the file is applied in part.
        learner_row(activity, learner_id="100006"),
    ]
    # JSON sends the same records with JSON types. Those whose values break the request
    # schema (points not a multiple of 0.25, an action that is no code, negative credits)
    # make a request malformed as a whole (422), so they travel in a request of their own;
    # their errors are the same.
    as_json = [as_json_record(record) for record in records]
    malformed = [0, 1, 4]
    api = Api(provider)
    refused = api.post("/learner-completions", [as_json[i] for i in malformed])
    assert refused.status_code == 422, refused.content
    api_errors: dict[int, set[tuple[str, str, str]]] = defaultdict(set)
    for error in refused.json()["errors"]:
        api_errors[malformed[error["row"]]].add((error["field"], error["rule"], error["message"]))
    rest = [i for i in range(len(records)) if i not in malformed]
    response = api.post("/learner-completions", [as_json[i] for i in rest])
    assert response.status_code == 200, response.content
    for result in response.json()["results"]:
        api_errors[rest[result["index"]]] = {
            (e["field"], e["rule"], e["message"]) for e in result["errors"]
        }
    LearnerCompletion.objects.all().delete()

    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile("learners.txt", tsv(records)), kind="learners")
    upload.refresh_from_db()
    assert upload.status == "partial", upload.message
    file_errors: dict[int, set[tuple[str, str, str]]] = defaultdict(set)
    for row, field, rule, message in UploadError.objects.filter(upload=upload).values_list(
        "row", "field", "rule", "message"
    ):
        assert row is not None
        file_errors[row - 2].add((field, rule, message))  # row 1 is the header

    assert {index: errors for index, errors in api_errors.items() if errors} == dict(file_errors)
    rules = {rule for errors in api_errors.values() for _, rule, _ in errors}
    assert rules == {
        "learner.birth_date.invalid",
        "learner.learner_id.invalid",
        "learner.moc_points.step",
        "learner.npi.invalid",
        "learner.first_name.required",
        "learner.completion_date.future",
        "learner.action.not_allowed",
        "learner.learner_id.required",
        "learner.license_state.mismatch",
        "learner.profession.required",
        "learner.practice_state.required",
        "learner.dea_registration.required",
        "learner.moc_credit_types.not_allowed",
        "learner.cme_credits.invalid",
        "learner.moc_points.over_registered",
        "learner.activity.not_registered",
        "learner.completion_date.outside_activity",
        "learner.activity.not_found",
        "learner.record.not_found",
    }
    assert api_errors[10] == set()
    assert (upload.added, upload.rejected) == (1, 10)
