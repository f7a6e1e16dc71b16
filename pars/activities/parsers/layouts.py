"""The tab-delimited (and Excel) activity layouts, as data: one ordered column map each.

A layout is a tuple of fixed :class:`Column` s followed by a repeatable supporter
block (one block per commercial supporter). Each column names the dictionary field
(`pars.activities.dictionary`) its raw value goes to, or a marker for the few
legacy columns that need a word of mapping:

* :data:`TEMPLATE` — the "Template" column (`Template C`, …): identifies the
  layout; a row naming another layout is a structural problem.
* :data:`ACTIVITY_DATE` — the legacy single "Activity Date": it becomes both
  ``start_date`` and ``end_date``.
* :data:`IGNORED` — legacy activity-level commercial-support figures (the number
  of supporters, the activity total, the activity in-kind flags): the supporters
  come from the per-supporter blocks, and the totals are derived from them.
* a column with a ``code`` — a legacy Yes/No column that stands for one code of a
  list field (the seven sub-categories → ``learning_formats``, the sixteen
  competencies → ``competencies``, the five in-kind types → the supporter's
  ``in_kind_types``): a Yes adds the code, a No or blank adds nothing, and any
  other value is passed on as ``"<value> (<column header>)"`` so the validator
  reports it as a value that is not allowed.
* :data:`IN_KIND_OTHER` — the legacy "In Kind Support Received - Other?" cell:
  text (or Yes) adds ``other`` to ``in_kind_types`` and text becomes the
  ``in_kind_description``; No or blank adds nothing.

Parsers only map cells to raw values; they never check business rules. Values are
passed through untouched (strings from text files, native values from Excel),
except the Yes/No columns that stand for list codes (above).

How a file is recognized and its rows read: `pars.activities.parsers.row_readers`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from pars.activities.dictionary import (
    COMPETENCIES,
    FIELDS,
    FIELDS_BY_NAME,
    IN_KIND_TYPES,
    LEARNING_FORMATS,
)
from pars.intake.fields import Kind, Status
from pars.intake.readers.headers import normalise_header

# Markers for columns that are not a plain dictionary field.
TEMPLATE = "@template"
ACTIVITY_DATE = "@activity_date"
IGNORED = "@ignored"
IN_KIND_OTHER = "@in_kind_other"


@dataclass(frozen=True)
class Column:
    """One column: its header text, where its value goes, and header variants."""

    header: str
    target: str  # a dictionary field name, "action", "status", or a marker above
    code: str | None = None  # for a Yes/No column that stands for one code of a list
    aliases: tuple[str, ...] = ()

    def header_keys(self) -> set[str]:
        return {normalise_header(text) for text in (self.header, *self.aliases)}


@dataclass(frozen=True)
class Layout:
    """An activity file layout: fixed columns, then a repeatable supporter block."""

    name: str
    title: str  # for messages: "the <title> layout"
    description: str
    columns: tuple[Column, ...]
    supporter_block: tuple[Column, ...]
    # Recognition (see the module docstring).
    template_values: tuple[str, ...] = ()  # first-column values that name the layout
    by_field_count: bool = False  # header-less rows recognized by their field count
    # Columns matched by header text in any order (else by position); such a layout
    # needs its header row.
    by_header: bool = False
    # With by_header: supporter headers read "<prefix> <n> <block column header>".
    supporter_prefix: str = ""
    # The file changes existing activities only, and only the fields it has columns for
    # (a header row of this layout's columns alone, see _updates_only_reader).
    updates_only: bool = False

    def headers(self, supporters: int = 1) -> list[str]:
        """The header row, with `supporters` supporter blocks."""
        headers = [column.header for column in self.columns]
        for number in range(1, supporters + 1):
            for column in self.supporter_block:
                if self.supporter_prefix:
                    headers.append(f"{self.supporter_prefix} {number} {column.header}")
                else:
                    headers.append(column.header)
        return headers

    @property
    def template_keys(self) -> frozenset[str]:
        return _template_keys(self.template_values)


# ---------------------------------------------------------------------------
# Header and value helpers


@functools.cache
def _template_keys(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalise_header(value) for value in values)


# ---------------------------------------------------------------------------
# The layouts


def _flags(field_name: str, prefix: str, codes: dict[str, str]) -> tuple[Column, ...]:
    return tuple(
        Column(f"{prefix}{label}", field_name, code=code, aliases=(label,))
        for code, label in codes.items()
    )


_IDS_C = (
    Column("Template (DO NOT ALTER OR DELETE THIS COLUMN)", TEMPLATE, aliases=("Template",)),
    Column("ACCME Activity ID", "accme_activity_id"),
    Column("Provider Activity ID", "provider_activity_id"),
    Column("Reporting Year", "reporting_year"),
    Column("Activity Title", "title"),
    Column("Activity Date", ACTIVITY_DATE),
    Column("City", "city"),
    Column("State", "state"),
    Column("Country", "country"),
)
_OUTCOME_FLAGS = tuple(
    Column(FIELDS_BY_NAME[name].label, name)
    for name in (
        "designed_to_change_competence",
        "changes_measured_competence",
        "designed_to_change_performance",
        "changes_measured_performance",
        "designed_to_change_patient_outcomes",
        "changes_measured_patient_outcomes",
    )
)
_SUB_CATEGORIES = _flags(
    "learning_formats",
    "Sub-category: ",
    {
        code: LEARNING_FORMATS[code]
        for code in (
            "case_based",
            "lecture",
            "panel",
            "simulation",
            "skill_based",
            "small_group",
            "other",
        )
    },
)
_COMPETENCY_COLUMNS = (
    *_flags(
        "competencies",
        "ABMS/ACGME – ",
        {code: label for code, label in COMPETENCIES.items() if code.startswith("abms_")},
    ),
    *_flags(
        "competencies",
        "Institute of Medicine – ",
        {code: label for code, label in COMPETENCIES.items() if code.startswith("iom_")},
    ),
    *_flags(
        "competencies",
        "Interprofessional Education Collaborative – ",
        {code: label for code, label in COMPETENCIES.items() if code.startswith("ipec_")},
    ),
    Column(
        "Other Competencies – Competencies other than those listed were addressed",
        "competencies",
        code="other",
        aliases=("Other Competencies",),
    ),
)
_AMA_CREDITS = Column(
    "Number of AMA PRA Category 1 Credits Designated",
    "ama_credits",
    aliases=("Number of AMA PRA Category 1 CreditsTM Designated",),
)
_INCOME = (
    Column("Advertising & Exhibit Income (Activity)", "advertising_income"),
    Column("Other Income (Activity)", "other_income"),
    Column("Expenses (Activity)", "expenses"),
)
_IN_KIND_CODES = (
    "durable_equipment",
    "facilities",
    "disposable_supplies",
    "animal_parts",
    "human_parts",
)
# The activity-level in-kind flags of Template C and the 2011+ layout (ignored).
_ACTIVITY_IN_KIND = tuple(
    Column(f"In Kind Support Received – {IN_KIND_TYPES[code]}? (Activity)", IGNORED)
    for code in (*_IN_KIND_CODES, "other")
)
_ACTIVITY_SUPPORT_TOTALS = (
    Column("# of Commercial Supporters", IGNORED),
    Column("Total Monetary Amount Received (Activity)", IGNORED),
    *_ACTIVITY_IN_KIND,
)


def _supporter_block(amount_header: str) -> tuple[Column, ...]:
    return (
        Column("Commercial Support Source", "source"),
        Column(amount_header, "monetary_amount", aliases=("Monetary Amount Received",)),
        *(
            Column(
                f"In Kind Support Received – {IN_KIND_TYPES[code]}?",
                "in_kind_types",
                code=code,
            )
            for code in _IN_KIND_CODES
        ),
        Column("In Kind Support Received – Other?", IN_KIND_OTHER),
    )


TEMPLATE_C = Layout(
    name="template_c",
    title="Template C",
    description="Template C: ACCME tab-delimited template for reporting year 2014 "
    "(first column 'Template C'; 58 columns, then 8 per commercial supporter)",
    columns=(
        *_IDS_C,
        Column("Providership", "providership"),
        Column("Activity Type", "activity_format"),
        Column("Hours of Instruction", "hours_of_instruction"),
        Column("# of Physicians", "physician_learners"),
        Column("# of Other Learners", "other_learners"),
        Column("Commercial Support Received?", "commercial_support_received"),
        *_ACTIVITY_SUPPORT_TOTALS,
        *_OUTCOME_FLAGS,
        *_SUB_CATEGORIES,
        Column("Joint Provider(s)", "joint_providers"),
        _AMA_CREDITS,
        Column("Description of Content", "description"),
        *_INCOME,
        *_COMPETENCY_COLUMNS,
    ),
    supporter_block=_supporter_block("Monetary Amount Received (for Support Source)"),
    template_values=("Template C",),
)

TEMPLATE_D = Layout(
    name="template_d",
    title="Template D",
    description="Template D: ACCME tab-delimited template for reporting year 2015 onward "
    "(first column 'Template D'; 47 columns, then 8 per commercial supporter)",
    columns=tuple(
        column
        for column in TEMPLATE_C.columns
        if column not in _ACTIVITY_SUPPORT_TOTALS and column not in _INCOME
    ),
    supporter_block=TEMPLATE_C.supporter_block,
    template_values=("Template D",),
)

TEMPLATE_2011 = Layout(
    name="template_2011",
    title="2011+",
    description="2011+ layout: ACCME tab-delimited template with a Template column, "
    "2011–2013 (first column 'Template A' or 'Template B'; 42 columns, "
    "then 8 per commercial supporter)",
    columns=(
        *_IDS_C,
        Column("Sponsorship", "providership"),
        Column("Activity Type", "activity_format"),
        Column("Hours of Instruction", "hours_of_instruction"),
        Column("# of Physicians", "physician_learners"),
        Column("# of non-Physicians", "other_learners"),
        Column("Commercial Support Received?", "commercial_support_received"),
        *_ACTIVITY_SUPPORT_TOTALS,
        *_OUTCOME_FLAGS,
        *_SUB_CATEGORIES,
        Column("Joint Sponsor", "joint_providers"),
        _AMA_CREDITS,
        Column("Description of Content", "description"),
        *_INCOME,
    ),
    supporter_block=_supporter_block("Monetary Amount Received (for Support Source)"),
    template_values=("Template A", "Template B"),
)

LEGACY_43 = Layout(
    name="legacy_43",
    title="2010–11 43-field",
    description="2010–11 layout: 43 fields, no Template column (first column the "
    "reporting year; 35 columns, then 8 per commercial supporter)",
    columns=(
        Column("Reporting Year", "reporting_year"),
        Column("Provider Activity ID", "provider_activity_id"),
        Column("ACCME Activity ID", "accme_activity_id"),
        Column("Activity Title", "title"),
        Column("Activity Date", ACTIVITY_DATE),
        Column("City", "city"),
        Column("State", "state"),
        Column("Country", "country"),
        Column("Sponsorship", "providership"),
        Column("Activity Type", "activity_format"),
        Column("Hours of Instruction", "hours_of_instruction"),
        Column("# of Physicians", "physician_learners"),
        Column("# of non-Physicians", "other_learners"),
        Column("Commercial Support Received?", "commercial_support_received"),
        Column("Total Value of Commercial Support Received (Monetary or In-Kind)", IGNORED),
        Column("# of Commercial Supporters", IGNORED),
        *_OUTCOME_FLAGS,
        *_SUB_CATEGORIES,
        Column("Joint Sponsor", "joint_providers"),
        _AMA_CREDITS,
        Column("Description of Content", "description"),
        *_INCOME,
    ),
    supporter_block=_supporter_block("Monetary Amount Received (from Commercial Support)"),
    by_field_count=True,
)

CURRENT = Layout(
    name="current",
    title="PARS",
    description="PARS template: our current layout (header row required; the "
    "downloadable Excel template, or its columns saved as tab-delimited text)",
    columns=(
        Column("Action", "action"),
        Column("Status", "status"),
        *(Column(spec.label, spec.name) for spec in FIELDS if spec.kind is not Kind.SUPPORTERS),
    ),
    supporter_block=(
        Column("Source", "source"),
        Column("Monetary Amount", "monetary_amount"),
        Column("In-Kind?", "in_kind"),
        Column("In-Kind Description", "in_kind_description"),
    ),
    by_header=True,
    supporter_prefix="Supporter",
)

# The fields closing asks for, besides what an open activity has (reference 2.2):
# the learner counts first, then the rest, in dictionary order; Joint Provider(s) is
# asked for when the activity is jointly provided.
_CLOSING_FIELDS = (
    "physician_learners",
    "other_learners",
    *(
        spec.name
        for spec in FIELDS
        if spec.required_for is Status.CLOSED
        and spec.name not in ("physician_learners", "other_learners")
    ),
    "joint_providers",
)

LEARNER_COUNTS = Layout(
    name="learner_counts",
    title="Learner Counts",
    description="Learner Counts: the year-end file that closes existing activities "
    "(header row required: Provider Activity ID or ACCME Activity ID, # of Physicians "
    "and/or # of Other Learners, and any of the other fields closing needs; it updates "
    "existing activities only, and keeps every field it has no column for)",
    columns=(
        Column("Provider Activity ID", "provider_activity_id"),
        Column("ACCME Activity ID", "accme_activity_id"),
        Column("Activity Title", "title"),
        Column("Reporting Year", "reporting_year"),
        *(
            Column(
                FIELDS_BY_NAME[name].label,
                name,
                aliases=("# of non-Physicians",) if name == "other_learners" else (),
            )
            for name in _CLOSING_FIELDS
        ),
    ),
    supporter_block=(),
    by_header=True,
    updates_only=True,
)
# What identifies the activity a Learner Counts row updates, and what makes a header
# row a Learner Counts one (with nothing outside the layout's columns).
LEARNER_COUNTS_IDS = ("provider_activity_id", "accme_activity_id")
_LEARNER_COUNTS_MARKS = ("physician_learners", "other_learners")


def learner_counts_columns(year: int | None) -> tuple[Column, ...]:
    """The Learner Counts template's columns for a reporting year: the identifying ones
    and the closing fields PARS collects that year (all of them for None)."""
    return tuple(
        column
        for column in LEARNER_COUNTS.columns
        if column.target in ("provider_activity_id", "accme_activity_id", "title", "reporting_year")
        or FIELDS_BY_NAME[column.target].collected_in(year)
    )


LAYOUTS: tuple[Layout, ...] = (
    CURRENT,
    LEARNER_COUNTS,
    TEMPLATE_D,
    TEMPLATE_C,
    TEMPLATE_2011,
    LEGACY_43,
)
LAYOUTS_BY_NAME = {layout.name: layout for layout in LAYOUTS}


def accepted_layouts() -> str:
    return "; ".join(layout.description for layout in LAYOUTS)
