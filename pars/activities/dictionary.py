"""The activity data dictionary: every field of the PARS activity record, once.

Everything that knows about activity fields reads it from here: the validator
(`validation.py`), the parsers' column maps, the web form, the JSON schema of the
web service, the XLSX template and the published rule catalog. Code lists follow
`../shared/domain/pars-reference.md` sections 2.1-2.3.
"""

from __future__ import annotations

from decimal import Decimal

import iso3166

from pars.intake.fields import FieldSpec, Kind, Status
from pars.lib import text

STATUS_CODES = {
    "draft": "Draft",
    "active": "Active",
    "ready_to_close": "Ready to Close",
    "closed": "Closed",
}

FORMATS = {
    "course": "Course",
    "rss": "Regularly Scheduled Series",
    "enduring": "Enduring Material",
    "journal": "Journal-based CME",
    "manuscript_review": "Manuscript Review",
    "test_item_writing": "Test-Item Writing",
    "committee_learning": "Committee Learning",
    "performance_improvement": "Performance/Quality Improvement",
    "internet_searching": "Internet Searching and Learning",
    "learning_from_teaching": "Learning from Teaching",
    "other": "Other/Blended Learning",
}
# Formats that take a delivery method, and those that are live (need a location).
FORMATS_WITH_DELIVERY = {"course", "rss", "enduring"}
LIVE_FORMATS = {"course", "rss"}

DELIVERY_METHODS = {
    "in_person": "In-Person",
    "live_streamed": "Live-Streamed",
    "online": "Online",
    "print_other": "Print/Other",
}

# Legacy activity-type codes (Templates C/D, MEMS XML) -> (format, delivery methods).
LEGACY_ACTIVITY_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "C": ("course", ("in_person",)),
    "RSS": ("rss", ("in_person",)),
    "IL": ("course", ("live_streamed",)),
    "EM": ("enduring", ("print_other",)),
    "IEM": ("enduring", ("online",)),
    "JN": ("journal", ()),
    "MR": ("manuscript_review", ()),
    "TIW": ("test_item_writing", ()),
    "CML": ("committee_learning", ()),
    "PI": ("performance_improvement", ()),
    "ISL": ("internet_searching", ()),
    "LFT": ("learning_from_teaching", ()),
    # The TSV code for "Other" was never published; this is ours (README decision 4).
    "OTH": ("other", ()),
}
LEGACY_ACTIVITY_TYPE_NAMES = {
    "Course": "C",
    "Regularly Scheduled Series": "RSS",
    "Internet Live Course": "IL",
    "Enduring Material": "EM",
    "Internet Activity Enduring Material": "IEM",
    "Internet Enduring Material": "IEM",
    "Journal-based CME": "JN",
    "Manuscript Review": "MR",
    "Test-Item Writing": "TIW",
    "Committee Learning": "CML",
    "Performance Improvement": "PI",
    "Performance/Quality Improvement": "PI",
    "Internet Searching and Learning": "ISL",
    "Learning from Teaching": "LFT",
    "Other/Blended Learning": "OTH",
    "Other": "OTH",
}


def _activity_type_names() -> dict[str, str]:
    """Each legacy activity-type code with its name (its first spelling above)."""
    names: dict[str, str] = {}
    for name, code in LEGACY_ACTIVITY_TYPE_NAMES.items():
        names.setdefault(code, name)
    return {code: names.get(code, FORMATS[fmt]) for code, (fmt, _) in LEGACY_ACTIVITY_TYPES.items()}


# What an unknown activity format or type is told: every format (label and code) and
# every activity-type code ACCME's layouts use, from the lists above.
ACCEPTED_FORMATS_TEXT = (
    "Accepted formats: "
    + ", ".join(f"{label} ({code})" for code, label in FORMATS.items())
    + ". Or an ACCME activity type code: "
    + ", ".join(f"{code} ({name})" for code, name in _activity_type_names().items())
    + "."
)

PROVIDERSHIP = {"direct": "Direct", "joint": "Joint"}

OUTCOMES = {
    "learner_knowledge": "Learner Knowledge",
    "learner_competence": "Learner Competence",
    "learner_performance": "Learner Performance",
    "patient_health": "Patient Health",
    "community_health": "Community Health",
}
MEASUREMENT_TYPES = {"objective": "Objective", "subjective": "Subjective"}

COMPETENCIES = {
    "abms_patient_care": "Patient Care and Procedural Skills",
    "abms_medical_knowledge": "Medical Knowledge",
    "abms_practice_based_learning": "Practice-based Learning and Improvement",
    "abms_communication": "Interpersonal and Communication Skills",
    "abms_professionalism": "Professionalism",
    "abms_systems_based_practice": "Systems-based Practice",
    "iom_patient_centered_care": "Provide patient-centered care",
    "iom_interdisciplinary_teams": "Work in interdisciplinary teams",
    "iom_evidence_based_practice": "Employ evidence-based practice",
    "iom_quality_improvement": "Apply quality improvement",
    "iom_informatics": "Utilize informatics",
    "ipec_values_ethics": "Values/Ethics for Interprofessional Practice",
    "ipec_roles_responsibilities": "Roles/Responsibilities",
    "ipec_communication": "Interprofessional Communication",
    "ipec_teams_teamwork": "Teams and Teamwork",
    "other": "Other Competencies",
}

LEARNING_FORMATS = {
    "case_based": "Case based discussion",
    "lecture": "Lecture",
    "panel": "Panel",
    "simulation": "Simulation",
    "skill_based": "Skill-based training",
    "small_group": "Small group discussion",
    "other": "Other",
}

IN_KIND_TYPES = {
    "durable_equipment": "Durable equipment",
    "facilities": "Facilities / Space",
    "disposable_supplies": "Disposable supplies (Non-biological)",
    "animal_parts": "Animal parts or tissue",
    "human_parts": "Human parts or tissue",
    "other": "Other",
}

FEES = {"yes": "Yes", "free": "No, it's free", "variable": "Variable"}
REGISTRATION = {"open": "Open to all", "limited": "Limited"}

US_STATES = {
    code: code
    for code in [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "AS",
        "GU",
        "MP",
        "PR",
        "UM",
        "VI",
    ]
}

# Full names, for formats that spell states out (REMS StateOfPrimaryPractice).
US_STATE_NAMES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "DC": "District of Columbia",
    "AS": "American Samoa",
    "GU": "Guam",
    "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico",
    "UM": "U.S. Minor Outlying Islands",
    "VI": "U.S. Virgin Islands",
}
COUNTRIES = {alpha3: country.name for alpha3, country in iso3166.countries_by_alpha3.items()}
COUNTRY_ALIASES = {
    **{country.alpha2: alpha3 for alpha3, country in iso3166.countries_by_alpha3.items()},
    **{country.name.upper(): alpha3 for alpha3, country in iso3166.countries_by_alpha3.items()},
    "UNITED STATES": "USA",
    "US": "USA",
}

# The Yes/No words every channel accepts (case-insensitive), and the reporting years.
FIRST_REPORTING_YEAR = 2005
LAST_REPORTING_YEAR = 2100

# Counts and dollar amounts are stored as 32-bit integers.
MAX_WHOLE_NUMBER = 2_147_483_647

# Every text value (text, text lists, web addresses; learner text fields too) refuses
# control characters other than tab and line breaks, under this one rule: they cannot
# be written to XML (see pars.lib.text).
CONTROL_CHARACTER_RULE = text.CONTROL_CHARACTER_RULE

# Reporting years of the two generations of PARS (reference 1.1).
LAST_LEGACY_YEAR = 2021
FIRST_CURRENT_YEAR = 2022


_YES_NO_FLAGS = [
    ("designed_to_change_competence", "Designed to change Competence?"),
    ("changes_measured_competence", "Changes in Competence evaluated?"),
    ("designed_to_change_performance", "Designed to change Performance?"),
    ("changes_measured_performance", "Changes in Performance evaluated?"),
    ("designed_to_change_patient_outcomes", "Designed to change Patient Outcomes?"),
    ("changes_measured_patient_outcomes", "Changes in Patient Outcomes evaluated?"),
]

FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "provider_activity_id",
        "Provider Activity ID",
        Kind.TEXT,
        "Your own identifier for the activity; a file row with a known ID updates it.",
        max_length=100,
        required_for=Status.DRAFT,
    ),
    FieldSpec(
        "accme_activity_id",
        "ACCME Activity ID",
        Kind.TEXT,
        "The 9-digit ID PARS assigned, if the activity came from PARS.",
        max_length=9,
    ),
    FieldSpec("title", "Activity Title", Kind.TEXT, max_length=500, required_for=Status.DRAFT),
    FieldSpec(
        "activity_format",
        "Activity Format",
        Kind.CHOICE,
        "The format, or a legacy activity-type code (" + ", ".join(LEGACY_ACTIVITY_TYPES) + ").",
        choices=FORMATS,
        required_for=Status.DRAFT,
    ),
    FieldSpec(
        "delivery_methods",
        "Delivery Method",
        Kind.CHOICE_LIST,
        "For courses, series and enduring materials; several allowed, separated by ';'.",
        choices=DELIVERY_METHODS,
        first_year=FIRST_CURRENT_YEAR,
    ),
    FieldSpec(
        "start_date", "Start Date", Kind.DATE, "mm/dd/yyyy or yyyy-mm-dd", required_for=Status.DRAFT
    ),
    FieldSpec(
        "end_date", "End Date", Kind.DATE, "mm/dd/yyyy or yyyy-mm-dd", required_for=Status.DRAFT
    ),
    FieldSpec(
        "reporting_year",
        "Reporting Year",
        Kind.YEAR,
        "Defaults to the year of the start date.",
    ),
    FieldSpec(
        "description",
        "Description",
        Kind.TEXT,
        max_length=2500,
        required_for=Status.ACTIVE,
        first_year=FIRST_CURRENT_YEAR,
    ),
    FieldSpec("city", "City", Kind.TEXT, "For live activities held in person.", max_length=100),
    FieldSpec("state", "State", Kind.CHOICE, "USPS code, when the country is USA.", US_STATES),
    FieldSpec(
        "country", "Country", Kind.CHOICE, "ISO 3166 alpha-3 code, e.g. USA, CAN.", COUNTRIES
    ),
    FieldSpec(
        "providership",
        "Providership",
        Kind.CHOICE,
        choices=PROVIDERSHIP,
        required_for=Status.ACTIVE,
    ),
    FieldSpec(
        "joint_providers",
        "Joint Provider(s)",
        Kind.TEXT_LIST,
        "Names of the non-accredited joint providers, separated by ';'.",
        max_length=255,
    ),
    FieldSpec(
        "hours_of_instruction",
        "Hours of Instruction",
        Kind.DECIMAL,
        max_value=Decimal(10000),
        positive=True,
        required_for=Status.CLOSED,
        last_year=LAST_LEGACY_YEAR,
        legacy=True,
    ),
    FieldSpec(
        "ama_credits",
        "AMA PRA Category 1 Credits",
        Kind.DECIMAL,
        "In steps of 0.25.",
        max_value=Decimal(1000),
        step=Decimal("0.25"),
        required_for=Status.ACTIVE,
        first_year=2015,
    ),
    FieldSpec(
        "physician_learners",
        "# of Physicians",
        Kind.INTEGER,
        "Including residents; a series counts each learner once per session.",
        required_for=Status.CLOSED,
    ),
    FieldSpec(
        "other_learners",
        "# of Other Learners",
        Kind.INTEGER,
        "Other health professionals.",
        required_for=Status.CLOSED,
    ),
    *(
        FieldSpec(
            name,
            label,
            Kind.BOOLEAN,
            required_for=Status.CLOSED,
            last_year=LAST_LEGACY_YEAR,
            legacy=True,
        )
        for name, label in _YES_NO_FLAGS
    ),
    FieldSpec(
        "learning_formats",
        "Learning Formats",
        Kind.CHOICE_LIST,
        "Legacy sub-categories, separated by ';'.",
        choices=LEARNING_FORMATS,
        last_year=2015,
        legacy=True,
    ),
    FieldSpec(
        "outcome_measures",
        "Outcome Measures",
        Kind.OUTCOMES,
        "Outcome[:Objective|Subjective], separated by ';', e.g. 'Learner Competence:Objective'.",
        choices=OUTCOMES,
        required_for=Status.CLOSED,
        first_year=FIRST_CURRENT_YEAR,
    ),
    FieldSpec(
        "competencies",
        "Competencies",
        Kind.CHOICE_LIST,
        "Competencies addressed, separated by ';'.",
        choices=COMPETENCIES,
        required_for=Status.CLOSED,
        first_year=2015,
        last_year=LAST_LEGACY_YEAR,
        legacy=True,
    ),
    FieldSpec(
        "commercial_support_received",
        "Commercial Support Received?",
        Kind.BOOLEAN,
        required_for=Status.CLOSED,
    ),
    FieldSpec(
        "supporters",
        "Commercial Supporters",
        Kind.SUPPORTERS,
        "Each source with its monetary amount (whole US dollars) and/or in-kind support.",
    ),
    FieldSpec(
        "listed_on_passport",
        "List on CME Passport?",
        Kind.BOOLEAN,
        required_for=Status.ACTIVE,
        first_year=FIRST_CURRENT_YEAR,
    ),
    FieldSpec("fee", "Fee for Participation", Kind.CHOICE, choices=FEES),
    FieldSpec("registration", "Registration", Kind.CHOICE, choices=REGISTRATION),
    FieldSpec("activity_url", "Activity URL", Kind.URL, max_length=500),
    FieldSpec(
        "meets_mips",
        "MIPS Improvement Activity?",
        Kind.BOOLEAN,
        "Registered as a CMS MIPS improvement activity.",
        first_year=2017,
    ),
    FieldSpec(
        "advertising_income",
        "Advertising & Exhibit Income (Activity)",
        Kind.MONEY,
        last_year=2014,
        legacy=True,
    ),
    FieldSpec("other_income", "Other Income (Activity)", Kind.MONEY, last_year=2014, legacy=True),
    FieldSpec("expenses", "Expenses (Activity)", Kind.MONEY, last_year=2014, legacy=True),
)

FIELDS_BY_NAME = {spec.name: spec for spec in FIELDS}

SUPPORTER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("source", "Commercial Support Source", Kind.TEXT, max_length=255),
    FieldSpec("monetary_amount", "Monetary Amount Received", Kind.MONEY),
    FieldSpec("in_kind", "In-Kind Support Received?", Kind.BOOLEAN),
    FieldSpec(
        "in_kind_types",
        "In-Kind Support Types",
        Kind.CHOICE_LIST,
        choices=IN_KIND_TYPES,
        legacy=True,
    ),
    FieldSpec("in_kind_description", "In-Kind Support – Other", Kind.TEXT, max_length=255),
)
SUPPORTER_FIELDS_BY_NAME = {spec.name: spec for spec in SUPPORTER_FIELDS}

# What a batch row may ask for besides the fields: its action and requested status.
RECORD_ACTIONS = {"add": "Add", "update": "Update", "delete": "Delete"}
REQUESTED_STATUSES = {
    "draft": "Draft",
    "active": "Active",
    "ready_to_close": "Ready to Close",
    "closed": "Closed",
}
