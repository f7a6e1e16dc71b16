"""The learner data dictionary: every field of a completion record and a registration, once.

Everything that knows about learner fields reads them from here: the validator, the
file parsers' header aliases, the web forms, the JSON schemas of the web service, the
Excel template and the rule catalog. Which fields a *recipient* requires, and its
code lists (MOC credit types, practice areas, identifier pattern), are data on the
:class:`~pars.learners.models.Recipient` row, seeded from :data:`SEED_RECIPIENTS`.
Code lists follow ``../shared/domain/pars-reference.md`` sections 2.4, 2.5, 5.2-5.7.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pars.activities.dictionary import US_STATES
from pars.intake.fields import FieldSpec, Kind, Status

RECORD_ACTIONS = {"add": "Add", "delete": "Delete"}

PROFESSIONS = {
    name.lower(): name
    for name in (
        "Physician",
        "Advanced practice nurse",
        "Physician Assistant",
        "Dentist",
        "Podiatrist",
        "Nurse",
        "Pharmacist",
        "Optometrist",
        "Psychologist",
        "Veterinarian",
        "Other healthcare professional",
        "Other",
    )
}
DEA_REGISTRATIONS = {"individual": "Individual", "institutional": "Institutional", "none": "None"}
REMS_PRACTICE_AREAS = {
    name.lower(): name
    for name in (
        "Addiction",
        "Anesthesiology",
        "Critical Care",
        "Dentistry",
        "Emergency",
        "Family Medicine",
        "Geriatric",
        "Hematology",
        "Hospice and/or Palliative Care",
        "Internal Medicine",
        "Neurology",
        "Obstetrics/Gynecology",
        "Oncology",
        "Ophthalmology",
        "Pain",
        "Pediatric",
        "Physical Medicine and Rehabilitation",
        "Psychiatry",
        "General Surgery",
        "Orthopedic surgery",
        "Other surgical specialty",
        "Urology",
        "Other",
        "N/A",
    )
}
TIME_IN_PRACTICE = {
    name.lower(): name
    for name in (
        "Trainee",
        "0-5 years post training",
        "6-10 years",
        "11-15 years",
        "16-20 years",
        "21+ years",
    )
}
REMS_TYPES = {"opioid_analgesic": "Opioid Analgesic", "mycophenolate": "Mycophenolate"}

MAX_CREDITS = Decimal("1000")
CREDIT_STEP = Decimal("0.25")

# Which recipients a completion field is for (FieldSpec.applies_to: recipient kinds; a
# field without is for every recipient). Each field's group is the part of the record it
# belongs to: the activity and the recipient (which the writer links), the learner, the
# completion's date, the credits, and the REMS answers.
_MOC_BOARDS = frozenset({"moc_board"})
_STATE_BOARDS = frozenset({"state_board"})
_REMS = frozenset({"rems"})
# A field every completion needs, whichever the recipient (the lowest status).
_ALWAYS = Status.DRAFT

# A completion record, as every channel supplies it (files match these names and the
# aliases below in their header row; the JSON body uses the names).
COMPLETION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "provider_activity_id",
        "Provider Activity ID",
        Kind.TEXT,
        "Your identifier of the activity (or give the ACCME Activity ID).",
        max_length=100,
        group="activity",
    ),
    FieldSpec(
        "accme_activity_id",
        "ACCME Activity ID",
        Kind.TEXT,
        "PARS's 9-digit activity number, instead of the Provider Activity ID.",
        max_length=9,
        group="activity",
    ),
    FieldSpec(
        "recipient",
        "Recipient",
        Kind.TEXT,
        "Who receives the completion: a board code (ABIM, ABA, …), REMS, or a state "
        "board's code (ME, NC, TN). See /api/v1/recipients.",
        max_length=20,
        group="recipient",
    ),
    FieldSpec(
        "first_name",
        "First Name",
        Kind.TEXT,
        "The learner's given name.",
        max_length=100,
        required_for=_ALWAYS,
        group="learner",
    ),
    FieldSpec(
        "last_name",
        "Last Name",
        Kind.TEXT,
        "The learner's family name.",
        max_length=100,
        required_for=_ALWAYS,
        group="learner",
    ),
    FieldSpec(
        "birth_date",
        "Birth Month and Day",
        Kind.TEXT,
        "MM-DD (or MM/DD; a full date is accepted and its year ignored). Used only to "
        "match the learner at the recipient.",
        max_length=10,
        required_for=_ALWAYS,
        group="learner",
    ),
    FieldSpec(
        "learner_id",
        "Learner ID",
        Kind.TEXT,
        "The board ID for a certifying board, the state medical license ID for a state "
        "board, your own learner key for REMS.",
        max_length=40,
        group="learner",
    ),
    FieldSpec(
        "npi",
        "NPI",
        Kind.TEXT,
        "National Provider Identifier, 10 digits.",
        max_length=10,
        group="learner",
    ),
    FieldSpec(
        "license_state",
        "License State",
        Kind.CHOICE,
        "USPS code of the state of licensure (state boards).",
        choices=US_STATES,
        group="learner",
        applies_to=_STATE_BOARDS,
    ),
    FieldSpec(
        "completion_date",
        "Completion Date",
        Kind.DATE,
        "The day the learner completed.",
        required_for=_ALWAYS,
        group="completion",
    ),
    FieldSpec(
        "cme_credits",
        "CME Credits",
        Kind.DECIMAL,
        "AMA PRA Category 1 Credits™ earned, in steps of 0.25.",
        max_value=MAX_CREDITS,
        step=CREDIT_STEP,
        group="credits",
    ),
    FieldSpec(
        "moc_points",
        "MOC Points",
        Kind.DECIMAL,
        "MOC points or credits earned (certifying boards), at most the registered points.",
        max_value=MAX_CREDITS,
        step=CREDIT_STEP,
        group="credits",
        applies_to=_MOC_BOARDS,
    ),
    FieldSpec(
        "moc_credit_types",
        "MOC Credit Types",
        Kind.TEXT_LIST,
        "The board's credit types earned, separated by semicolons (registered types only).",
        max_length=60,
        group="credits",
        applies_to=_MOC_BOARDS,
    ),
    FieldSpec(
        "profession",
        "Profession",
        Kind.CHOICE,
        "REMS.",
        choices=PROFESSIONS,
        group="rems",
        applies_to=_REMS,
    ),
    FieldSpec(
        "practice_state",
        "State of Primary Practice",
        Kind.CHOICE,
        "REMS: USPS code or state name.",
        choices=US_STATES,
        group="rems",
        applies_to=_REMS,
    ),
    FieldSpec(
        "dea_registration",
        "DEA Registration",
        Kind.CHOICE,
        "REMS.",
        choices=DEA_REGISTRATIONS,
        group="rems",
        applies_to=_REMS,
    ),
    FieldSpec(
        "practice_area",
        "Practice Area",
        Kind.CHOICE,
        "REMS.",
        choices=REMS_PRACTICE_AREAS,
        group="rems",
        applies_to=_REMS,
    ),
    FieldSpec(
        "surgical_procedures",
        "Performs Surgical Procedures?",
        Kind.BOOLEAN,
        "REMS.",
        group="rems",
        applies_to=_REMS,
    ),
    FieldSpec(
        "time_in_practice",
        "Time in Practice",
        Kind.CHOICE,
        "REMS.",
        choices=TIME_IN_PRACTICE,
        group="rems",
        applies_to=_REMS,
    ),
)
COMPLETION_FIELDS_BY_NAME = {spec.name: spec for spec in COMPLETION_FIELDS}

# The groups naming what the record is about, not what it says: the writer links them.
LINK_GROUPS = frozenset({"activity", "recipient"})
# A field the record stores as other fields, with their types (the birth date is kept
# as its month and day only).
STORED_AS: dict[str, tuple[tuple[str, type], ...]] = {
    "birth_date": (("birth_month", int), ("birth_day", int)),
}


def stored_names(names: Iterable[str]) -> tuple[str, ...]:
    """The stored fields of dictionary fields, in their order (see STORED_AS)."""
    return tuple(
        stored
        for name in names
        for stored in (tuple(part for part, _ in STORED_AS[name]) if name in STORED_AS else (name,))
    )


def group_names(group: str, fields: Iterable[FieldSpec] = COMPLETION_FIELDS) -> tuple[str, ...]:
    """The dictionary names of the completion fields of one group, in dictionary order."""
    return tuple(spec.name for spec in fields if spec.group == group)


def value_names(fields: Iterable[FieldSpec] = COMPLETION_FIELDS) -> tuple[str, ...]:
    """The dictionary names of the fields a completion states (all but the links)."""
    return tuple(spec.name for spec in fields if spec.group not in LINK_GROUPS)


# Header names a learner file may use for a field, besides its label and name
# (compared without case, spaces, underscores or punctuation).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "action": ("Record Action", "LearnerRecordAction"),
    "provider_activity_id": ("Activity ID (Provider)", "ProviderActivityID"),
    "accme_activity_id": ("Activity ID", "ACCME ID", "moduleID"),
    "recipient": ("Board", "MOC Board", "Recipient Code", "Certifying Board"),
    "first_name": ("Given Name", "GivenName", "First"),
    "last_name": ("Family Name", "FamilyName", "Surname", "Last"),
    "birth_date": ("Birth Date", "DOB", "Date of Birth", "Birth MM-DD", "BirthDate"),
    "birth_month": ("Birth Month", "DOB Month"),
    "birth_day": ("Birth Day", "DOB Day"),
    "learner_id": (
        "Board ID",
        "Certifying Board ID",
        # Each recipient's own label ("ABIM ID") heads its learner IDs as well; those are
        # read from the Recipient table (pars.learners.parsers.recipient_labels).
        "License ID",
        "License Number",
        "Licence Number",  # British spelling, a header name files have (listed as one)
        "State License Number",
        "State Licence Number",  # British spelling, a header name files have (listed as one)
        "State Medical License ID",
        "Local Identifier",
        "Learner Identifier",
    ),
    "npi": ("National Provider Identifier",),
    "license_state": ("State of Licensure", "License State Code"),
    "completion_date": ("Date Completed", "CompletedDateTime", "Completion"),
    "cme_credits": ("CME Credit", "AMA Credits", "Credits"),
    "moc_points": ("MOC Credits", "Points", "MOC Credit"),
    "moc_credit_types": ("MOC Credit Type", "Credit Types", "Credit Type"),
    "practice_state": ("StateOfPrimaryPractice", "Primary Practice State"),
    "dea_registration": ("DEARegistration", "DEA"),
    "practice_area": ("PracticeArea",),
    "surgical_procedures": ("SurgicalProcedures", "Surgical Procedures"),
    "time_in_practice": ("TimeInPractice",),
}

# Registration of an activity with a recipient (which of these a recipient asks for is
# its ``registration_fields``; the required ones its ``required_registration_fields``).
REGISTRATION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "moc_points",
        "MOC Points",
        Kind.DECIMAL,
        "Points the activity offers; may be lower than its AMA credits when only some "
        "sessions qualify.",
        max_value=MAX_CREDITS,
        step=CREDIT_STEP,
        positive=True,
    ),
    FieldSpec("credit_types", "MOC Credit Types", Kind.TEXT_LIST, "The board's credit types."),
    FieldSpec("practice_areas", "Practice Areas", Kind.TEXT_LIST, "The board's practice areas."),
    FieldSpec(
        "participation_threshold",
        "Participation Threshold (%)",
        Kind.INTEGER,
        "The score or participation a learner needs, in per cent.",
        max_value=Decimal(100),
    ),
    FieldSpec(
        "feedback_type", "Feedback Type", Kind.TEXT, "How learners get feedback.", max_length=100
    ),
    FieldSpec("disclosure_date", "Disclosure Date", Kind.DATE, "When learners were told."),
    FieldSpec(
        "credit_claim_date",
        "Credit Claim Date",
        Kind.DATE,
        "The last day completions may be reported to the board.",
    ),
    FieldSpec("internal_id", "Internal ID", Kind.TEXT, "The board's ID, if any.", max_length=100),
    FieldSpec("rems_type", "REMS Type", Kind.CHOICE, "REMS program.", choices=REMS_TYPES),
    FieldSpec(
        "rems_rpc_id",
        "RPC ID",
        Kind.TEXT,
        "The identifier a REMS Program Company gave the activity (EG-######-###).",
        max_length=20,
    ),
)
REGISTRATION_FIELDS_BY_NAME = {spec.name: spec for spec in REGISTRATION_FIELDS}

_MOC_REGISTRATION = [
    "moc_points",
    "credit_types",
    "practice_areas",
    "participation_threshold",
    "feedback_type",
    "disclosure_date",
    "credit_claim_date",
    "internal_id",
]
_MOC_COMPLETION = ["moc_points"]
_ATTEST = (
    "I attest that this activity complies with the {name} requirements for continuing "
    "certification, that completions will be reported through PARS within 30 days with "
    "each learner's permission, that the accreditor may publish the activity, and that we "
    "will comply with audits."
)


def _board(
    code: str,
    name: str,
    order: int,
    *,
    credit_types: list[str],
    pattern: str,
    hint: str,
    id_required: bool = True,
    variable: bool = True,
    first_date: str | None = None,
    **rules: Any,
) -> dict[str, Any]:
    """A certifying board's row; ``rules`` are its further Recipient fields (credit-type
    windows, exclusive and separate credit types, its first activity day...)."""
    return {
        "code": code,
        "name": name,
        "kind": "moc_board",
        "sort_order": order,
        "identifier_kind": "board_id",
        "identifier_label": f"{code} ID",
        "identifier_pattern": pattern,
        "identifier_hint": hint,
        "identifier_required": id_required,
        "credit_types": credit_types,
        "practice_areas": [],
        "feedback_types": ["Individual feedback", "Group feedback", "Score report"],
        "registration_fields": _MOC_REGISTRATION,
        "required_registration_fields": ["moc_points", "credit_types"],
        "completion_fields": _MOC_COMPLETION,
        "variable_credit": variable,
        "first_completion_date": first_date,
        "attestation_text": _ATTEST.format(name=name),
        **rules,
    }


def _state(code: str, state: str, name: str, order: int, *, npi: bool = False) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "kind": "state_board",
        "sort_order": order,
        "state": state,
        "identifier_kind": "license",
        "identifier_label": f"{state} license ID",
        "identifier_pattern": r"[A-Za-z0-9-]{1,20}",
        "identifier_hint": "the state medical license number"
        + (" (or give the NPI)" if npi else ""),
        "identifier_required": True,
        "accepts_npi": npi,
        "registration_fields": [],
        "required_registration_fields": [],
        "completion_fields": ["license_state", "cme_credits"],
        "attestation_text": f"I attest that completions reported to the {name} are for "
        "learners who gave their permission to share them.",
    }


# Seeded by migration 0002 and brought up to date by 0009 (the boards in CME for MOC
# today, reference section 11); staff extend the table in the admin. The board credit-type
# names follow the reference (2.4, 11); names marked [?] there are plausible, editable data.
SEED_RECIPIENTS: list[dict[str, Any]] = [
    _board(
        "ABIM",
        "American Board of Internal Medicine",
        10,
        credit_types=["Medical Knowledge", "Practice Assessment", "Patient Safety"],
        pattern=r"\d{6}",
        hint="6 digits",
    ),
    _board(
        "ABA",
        "American Board of Anesthesiology",
        20,
        credit_types=["Lifelong Learning", "Patient Safety"],
        pattern=r"\d{8}",
        hint="8 digits",
        # One participation record per diplomate, activity and day; patient safety in a
        # second record; the two within the registered points.
        separate_credit_types=["Patient Safety"],
        records_within_registered_points=True,
    ),
    _board(
        "ABP",
        "American Board of Pediatrics",
        30,
        credit_types=["Lifelong Learning", "Quality Improvement"],
        pattern=r"\d{6}",
        hint="6 digits",
        variable=False,
    ),
    _board(
        "ABS",
        "American Board of Surgery",
        40,
        credit_types=["Accredited CME", "Self-Assessment"],
        pattern=r"\d{5,6}",
        hint="5 or 6 digits (optional: ABS matches on name and birth date)",
        id_required=False,
        first_date="2021-03-01",
    ),
    _board(
        "ABPATH",
        "American Board of Pathology",
        50,
        credit_types=[
            "Lifelong Learning",
            "Self-Assessment Module (SAM)",
            "Improvement in Medical Practice",
        ],
        pattern=r"\d{5,7}",
        hint="5 to 7 digits",
        # SAM ended on 2021-01-01; completions dated 2020 may still be reported.
        credit_type_windows=[
            {"credit_type": "Self-Assessment Module (SAM)", "valid_until": "2020-12-31"}
        ],
    ),
    _board(
        "ABOHNS",
        "American Board of Otolaryngology – Head and Neck Surgery",
        60,
        credit_types=["Self-Assessment", "Patient Safety"],
        pattern=r"\d{5,6}",
        hint="5 or 6 digits",
    ),
    _board(
        "ABTS",
        "American Board of Thoracic Surgery",
        70,
        credit_types=["Accredited CME", "Self-Assessment"],
        pattern=r"\d{4,6}",
        hint="4 to 6 digits",
        self_reported_cme_until="2027-12-31",
    ),
    _board(
        "ABOS",
        "American Board of Orthopaedic Surgery",
        80,
        credit_types=["Accredited CME", "Self-Assessment"],
        pattern=r"\d{4,6}",
        hint="4 to 6 digits",
    ),
    _board(
        "ABO",
        "American Board of Ophthalmology",
        82,
        credit_types=[
            "Lifelong Learning",
            "Self-Assessment",
            "Patient Safety",
            "Improvement in Medical Practice",
        ],
        pattern=r"\d{4,8}",
        hint="4 to 8 digits",
        exclusive_credit_types=[["Improvement in Medical Practice", "Patient Safety"]],
    ),
    _board(
        "ABPMR",
        "American Board of Physical Medicine and Rehabilitation",
        84,
        credit_types=["Lifelong Learning", "Self-Assessment"],
        pattern=r"\d{4,8}",
        hint="4 to 8 digits",
        earliest_activity_start="2025-01-01",
    ),
    {
        "code": "REMS",
        "name": "FDA Opioid Analgesic REMS",
        "kind": "rems",
        "sort_order": 90,
        "identifier_kind": "local",
        "identifier_label": "Learner identifier",
        "identifier_pattern": r"[A-Za-z0-9._:-]{1,40}",
        "identifier_hint": "your own identifier of the learner",
        "identifier_required": True,
        "registration_fields": ["rems_type", "rems_rpc_id"],
        "required_registration_fields": ["rems_type"],
        "completion_fields": ["profession", "practice_state", "dea_registration"],
        # REMS records are reported (into the REMS report), not matched to a registry.
        "matches_learners": False,
        "attestation_text": "I attest that this activity is a REMS-compliant activity under "
        "the FDA Opioid Analgesic REMS Education Blueprint.",
    },
    _state("ME", "ME", "Maine Board of Licensure in Medicine", 100),
    _state("NC", "NC", "North Carolina Medical Board", 110),
    _state("TN", "TN", "Tennessee Board of Medical Examiners", 120, npi=True),
]
