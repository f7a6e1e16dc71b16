"""The rule catalog of learner completions and registrations (published at
/rules/learners/ and /api/v1/rules/learners)."""

from __future__ import annotations

from pars.intake.fields import FieldSpec, Kind
from pars.intake.rules import FieldRule, Rule, catalogue, field_rules
from pars.learners.dictionary import (
    COMPLETION_FIELDS,
    REGISTRATION_FIELDS,
)
from pars.lib.text import (
    CONTROL_CHARACTER_FIELD,
    CONTROL_CHARACTER_MESSAGE,
    CONTROL_CHARACTER_RULE,
)

_RULE_LIST = [
    Rule("learner.action.not_allowed", "action", "Action must be Add or Delete."),
    Rule(
        "learner.activity.required",
        "provider_activity_id",
        "Give the Provider Activity ID or the ACCME Activity ID of the activity.",
    ),
    Rule(
        "learner.accme_activity_id.invalid", "accme_activity_id", "ACCME Activity ID has 9 digits."
    ),
    Rule("learner.recipient.required", "recipient", "Recipient is required."),
    Rule("learner.recipient.unknown", "recipient", "Recipient must be a known recipient code."),
    Rule("learner.first_name.required", "first_name", "First Name is required."),
    Rule("learner.last_name.required", "last_name", "Last Name is required."),
    Rule("learner.birth_date.required", "birth_date", "Birth month and day are required."),
    Rule("learner.birth_date.invalid", "birth_date", "Birth month and day must be a real MM-DD."),
    Rule(
        "learner.learner_id.required",
        "learner_id",
        "The recipient's learner identifier is required (board ID, license ID or local ID).",
    ),
    Rule(
        "learner.learner_id.invalid",
        "learner_id",
        "The learner identifier does not have the recipient's form.",
    ),
    Rule("learner.npi.invalid", "npi", "NPI must be 10 digits with a valid check digit."),
    Rule("learner.license_state.required", "license_state", "State boards need the license state."),
    Rule(
        "learner.license_state.mismatch",
        "license_state",
        "The license state must be the state of the recipient board.",
    ),
    Rule("learner.completion_date.required", "completion_date", "Completion Date is required."),
    Rule("learner.completion_date.future", "completion_date", "Completion Date is in the future."),
    Rule(
        "learner.completion_date.outside_window",
        "completion_date",
        "The recipient accepts completions of this and last calendar year only (its window).",
    ),
    Rule(
        "learner.completion_date.outside_activity",
        "completion_date",
        "Completion Date must fall within the activity's start and end dates.",
    ),
    Rule(
        "learner.moc_points.required",
        "moc_points",
        "MOC Points are required for a certifying board.",
    ),
    Rule(
        "learner.moc_points.step",
        "moc_points",
        "MOC Points must be a multiple of the board's step (0.25).",
    ),
    Rule(
        "learner.moc_points.over_registered",
        "moc_points",
        "MOC Points may not exceed the points the activity is registered for.",
    ),
    Rule(
        "learner.moc_points.not_variable",
        "moc_points",
        "This board accepts no variable credit: every learner earns the registered points.",
    ),
    Rule(
        "learner.moc_points.not_for_recipient",
        "moc_points",
        "MOC points and credit types apply to certifying boards only.",
    ),
    Rule(
        "learner.moc_credit_types.not_allowed",
        "moc_credit_types",
        "A MOC credit type must be one the board uses.",
    ),
    Rule(
        "learner.moc_credit_types.not_registered",
        "moc_credit_types",
        "A MOC credit type must be one the activity is registered for.",
    ),
    Rule(
        "learner.moc_credit_types.outside_window",
        "moc_credit_types",
        "A MOC credit type may be claimed only for completions within the dates the board "
        "takes it (its window).",
    ),
    Rule(
        "learner.moc_credit_types.separate_record",
        "moc_credit_types",
        "The board takes this credit type in a record of its own: report it and the other "
        "credit types as two records.",
    ),
    Rule(
        "learner.moc_points.over_day_total",
        "moc_points",
        "A learner's records of one activity and completion date together may not exceed the "
        "points the activity is registered for.",
    ),
    Rule(
        "learner.credit_claim_date.passed",
        "completion_date",
        "The activity's credit claim date for this board has passed.",
    ),
    Rule(
        "learner.cme_credits.required",
        "cme_credits",
        "CME Credits are required for this recipient.",
    ),
    Rule(
        "learner.activity.not_found",
        "provider_activity_id",
        "No activity of yours has this ID.",
    ),
    Rule(
        "learner.activity.not_registered",
        "recipient",
        "The activity is not registered for this recipient.",
    ),
    Rule(
        "learner.record.not_found",
        "action",
        "Delete: no completion with this activity, recipient, learner and date.",
    ),
    Rule(
        "learner.record.duplicate_in_file",
        "row",
        "The same completion appears twice in the file.",
    ),
    Rule(
        "learner.reporting_year.locked",
        "provider_activity_id",
        "The provider has attested the activity's reporting year: its completions (and "
        "registrations) are read-only, unless the recipient takes completions after the year "
        "is attested. Ask the accreditor's staff to reopen the year.",
    ),
    Rule("learner.row.unreadable", "row", "The row could not be read."),
    # The activities' rule, shared: no text field holds control characters.
    Rule(CONTROL_CHARACTER_RULE, CONTROL_CHARACTER_FIELD, CONTROL_CHARACTER_MESSAGE),
]


# The learner catalog's words for an unreadable value, by kind.
_INVALID_WORDS = {
    Kind.DATE: "must be a date.",
    Kind.DECIMAL: "must be a number.",
    Kind.BOOLEAN: "is Yes or No.",
}


def _implied_rules(spec: FieldSpec) -> list[FieldRule]:
    """The rules a completion field's kind and limits imply."""
    rules = []
    if spec.kind in _INVALID_WORDS:
        rules.append(FieldRule("invalid", f"{spec.label} {_INVALID_WORDS[spec.kind]}"))
    if spec.kind is Kind.DECIMAL and spec.step:
        rules.append(FieldRule("step", f"{spec.label} must be a multiple of {spec.step}."))
    if spec.choices:
        rules.append(FieldRule("not_allowed", f"{spec.label} must be one of the allowed values."))
        rules.append(FieldRule("required", f"{spec.label} is required here."))
    if spec.max_length:
        message = f"{spec.label} must be at most {spec.max_length} characters."
        rules.append(FieldRule("too_long", message))
    return rules


def _implied_registration_rules(spec: FieldSpec) -> list[FieldRule]:
    return [
        FieldRule("required", f"{spec.label} is required."),
        FieldRule("invalid", f"{spec.label} is not valid."),
    ]


_REGISTRATION_RULES = [
    Rule("registration.recipient.unknown", "recipient", "Unknown recipient."),
    Rule(
        "registration.attestation.required",
        "attest",
        "Registering requires attesting to the recipient's requirements.",
    ),
    Rule(
        "registration.credit_types.not_allowed",
        "credit_types",
        "A credit type must be one the board uses.",
    ),
    Rule(
        "registration.practice_areas.not_allowed",
        "practice_areas",
        "A practice area must be one the board lists.",
    ),
    Rule(
        "registration.feedback_type.not_allowed",
        "feedback_type",
        "A feedback type must be one the board lists.",
    ),
    Rule(
        "registration.credit_types.exclusive",
        "credit_types",
        "The board does not register one activity for both of these credit types.",
    ),
    Rule(
        "registration.activity.starts_too_early",
        "recipient",
        "The board registers only activities starting on or after its first day.",
    ),
    Rule(
        "registration.moc_points.over_credits",
        "moc_points",
        "MOC points may not exceed the activity's AMA credits.",
    ),
    Rule("registration.rems_rpc_id.invalid", "rems_rpc_id", "RPC ID has the form EG-######-###."),
    Rule(
        "registration.activity.has_completions",
        "recipient",
        "Completions were reported for this registration; withdraw them first.",
    ),
]

# Where two give an ID, the first wins: the hand-written rules say more than the implied.
RULES: dict[str, Rule] = catalogue(
    _RULE_LIST,
    field_rules("learner", ((spec.name, spec) for spec in COMPLETION_FIELDS), _implied_rules),
    _REGISTRATION_RULES,
    field_rules(
        "registration",
        ((spec.name, spec) for spec in REGISTRATION_FIELDS),
        _implied_registration_rules,
    ),
)
