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

Recognizing a file (:func:`recognise`, applied to its first non-blank row):

0. a header row of the Learner Counts layout's columns alone (an identifying column and
   a learner count among them): the year-end file that updates existing activities
   only, field by field (see ``pars.activities.uploads``);
1. a header row — the layout whose column headers match it. Header text is
   compared after dropping a leading "n. " number, case, and everything that is
   not a letter or digit ("1. Template (DO NOT ALTER…)" = "template do not alter…").
   Legacy layouts are matched by position over their fixed columns (supporter
   headers are not checked; a header whose first column is a legacy one but that
   matches no layout is refused, naming the first differing column of the closest
   layout, unless the rows name a layout in their Template column, have its columns
   and at most a quarter of its headers differ: then the file is read by position,
   with a notice per differing header).
   The ``current`` layout is matched by header text, in any order, and
   its header row is required (it must include "Provider Activity ID"); columns may
   be left out, an unknown or repeated header refuses the file, and a value under
   no header is a row problem. The exact header text of the legacy sub-category
   and competency columns is not published (reference 3.2), so the bare labels
   ("Lecture", "Medical Knowledge") are accepted as well as the prefixed ones;
2. the value of the first column: ``Template C``, ``Template D``, or
   ``Template A``/``Template B`` for the 2011+ layout (its letter is unknown,
   reference 3.2 (b); A and B are the letters before C);
3. the field count: a row of at least 43 fields (35 fixed + one supporter block)
   whose first field is a 4-digit reporting year is the 2010-11 layout.

Rows shorter than a layout's fixed columns are structural problems (every field
must be present, even when empty). A trailing supporter block that is short
(Excel drops trailing empty cells) is padded with blanks, and trailing all-blank
supporter blocks are dropped.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pars.activities.dictionary import (
    COMPETENCIES,
    FIELDS,
    FIELDS_BY_NAME,
    IN_KIND_TYPES,
    LEARNING_FORMATS,
)
from pars.activities.parsers.cells import yes_no
from pars.intake.fields import Kind, Status
from pars.intake.readers import FileRejected, ParsedRow, blank
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


# ---------------------------------------------------------------------------
# Reading rows


@dataclass(frozen=True)
class RowReader:
    """A layout bound to one file's column positions; turns cells into a ParsedRow.

    Positional layouts: fixed columns at 0..n-1, then supporter blocks repeat to
    the end of each row. Header layouts: the positions found in the header row.
    """

    layout: Layout
    fixed: tuple[tuple[int, Column], ...]
    # Header layouts: supporter blocks by number, and the header's width.
    blocks: tuple[tuple[tuple[int, Column], ...], ...] | None = None
    width: int | None = None
    unnamed: frozenset[int] = frozenset()
    # The file's header row, when it has one (the error report names its columns).
    headers: tuple[str, ...] = ()

    @functools.cached_property
    def columns(self) -> dict[str, str]:
        """Each field's header in this file (the layout's own header when the file has
        no header row): one dict for all the file's rows (see ParsedRow.columns)."""
        found: dict[str, list[str]] = {}
        for position, column in self.fixed:
            for target in _targets(column):
                found.setdefault(target, []).append(self._header(position, column))
        if self.blocks is not None:
            numbered = enumerate(self.blocks, start=1)
        else:
            numbered = enumerate(self._positional_blocks(len(self.headers)), start=1)
        for number, block in numbered:
            for position, column in block:
                for target in _targets(column):
                    key = f"supporters[{number}].{target}"
                    found.setdefault(key, []).append(self._header(position, column))
        for column in self.layout.supporter_block:  # a supporter past the header's blocks
            for target in _targets(column):
                found.setdefault(f"supporters.{target}", []).append(column.header)
        return {
            target: headers[0] if len(headers) == 1 else f"{headers[0]} …"
            for target, headers in found.items()
        }

    def _header(self, position: int, column: Column) -> str:
        if position < len(self.headers) and self.headers[position]:
            return self.headers[position]
        return column.header

    @functools.cached_property
    def _plain(self) -> tuple[tuple[int, str], ...]:
        return tuple(
            (position, column.target)
            for position, column in self.fixed
            if column.code is None and not column.target.startswith("@")
        )

    @functools.cached_property
    def _special(self) -> tuple[tuple[int, Column], ...]:
        return tuple(
            (position, column)
            for position, column in self.fixed
            if column.code is not None or column.target.startswith("@")
        )

    def read(self, cells: Sequence[Any], row: int) -> ParsedRow:
        layout = self.layout
        if self.blocks is None:
            needed = len(layout.columns)
            if len(cells) < needed:
                return ParsedRow(
                    row,
                    problem=f"The row has {len(cells)} columns; the {layout.title} layout has "
                    f"{needed} columns before the commercial supporter columns.",
                    columns=self.columns,
                )
            blocks: Sequence[tuple[tuple[int, Column], ...]] = self._positional_blocks(len(cells))
        else:
            blocks = self.blocks
            problem = self._stray_cells(cells)
            if problem:
                return ParsedRow(row, problem=problem, columns=self.columns)

        data: dict[str, Any] = {}
        problem = None
        length = len(cells)
        # Plain columns are most of a row: copy them in a tight loop (big files).
        for position, target in self._plain:
            data[target] = cells[position] if position < length else ""
        for position, column in self._special:
            value = cells[position] if position < length else ""
            problem = _apply(data, column, value, layout) or problem
        if layout.supporter_block and (self.blocks is None or self.blocks):
            # (A header without supporter columns says nothing about supporters.)
            supporters = [_supporter(cells, block) for block in blocks]
            while supporters and all(blank(value) for value in supporters[-1].values()):
                supporters.pop()
            data["supporters"] = supporters
        return ParsedRow(row, data, problem, self.columns)

    def _positional_blocks(self, length: int) -> list[tuple[tuple[int, Column], ...]]:
        start = len(self.layout.columns)
        size = len(self.layout.supporter_block)
        return [
            tuple(enumerate(self.layout.supporter_block, start=offset))
            for offset in range(start, length, size)
        ]

    def _stray_cells(self, cells: Sequence[Any]) -> str | None:
        assert self.width is not None
        # Only cells without a header can be stray: look at those alone (rows are many).
        suspects = sorted(
            [position for position in self.unnamed if position < len(cells)]
            + list(range(self.width, len(cells)))
        )
        for position in suspects:
            if blank(cells[position]):
                continue
            if position >= self.width:
                return (
                    f"Column {position + 1} has a value but the header row has only "
                    f"{self.width} columns."
                )
            return f"Column {position + 1} has a value but no header."
        return None


def _targets(column: Column) -> tuple[str, ...]:
    """The fields a column fills (none for the Template and ignored columns)."""
    if column.target in (TEMPLATE, IGNORED):
        return ()
    if column.target == ACTIVITY_DATE:
        return ("start_date", "end_date")
    if column.target == IN_KIND_OTHER:
        return ("in_kind_types", "in_kind_description")
    return (column.target,)


def _apply(data: dict[str, Any], column: Column, value: Any, layout: Layout) -> str | None:
    """Put one fixed cell into `data`; returns a structural problem, if any."""
    target = column.target
    if target == IGNORED:
        return None
    if target == TEMPLATE:
        if normalise_header(value) not in layout.template_keys:
            expected = " or ".join(repr(v) for v in layout.template_values)
            return (
                f"The Template column says {str(value).strip()!r}, but this file is in the "
                f"{layout.title} layout ({expected})."
            )
        return None
    if target == ACTIVITY_DATE:
        data["start_date"] = data["end_date"] = value
    elif column.code is not None:
        _add_flag(data.setdefault(target, []), column, value)
    else:
        data[target] = value
    return None


def _add_flag(codes: list[Any], column: Column, value: Any) -> None:
    try:
        if yes_no(value) and column.code not in codes:
            codes.append(column.code)
    except ValueError:
        codes.append(f"{str(value).strip()} ({column.header})")


def _supporter(cells: Sequence[Any], block: tuple[tuple[int, Column], ...]) -> dict[str, Any]:
    supporter: dict[str, Any] = {}
    for position, column in block:
        value = cells[position] if position < len(cells) else ""
        if column.code is not None:
            _add_flag(supporter.setdefault(column.target, []), column, value)
        elif column.target == IN_KIND_OTHER:
            types = supporter.setdefault("in_kind_types", [])
            try:
                flag = yes_no(value)
            except ValueError:
                flag = True
                supporter["in_kind_description"] = value
            if flag and "other" not in types:
                types.append("other")
        else:
            supporter[column.target] = value
    return supporter


# ---------------------------------------------------------------------------
# Recognition


def recognise(
    cells: Sequence[Any],
    following: Callable[[], Sequence[Any] | None] | None = None,
    notices: list[str] | None = None,
) -> tuple[RowReader, bool]:
    """The reader for a file whose first non-blank row is `cells`, and whether that
    row is a header row. Raises FileRejected when no layout fits.

    `following` gives the next row's cells (None: no more rows), asked for only when the
    header row differs from a positional layout's; `notices` receives a sentence per
    header read differently (see _near_miss). A header row's text goes with the reader,
    for the error report (RowReader.columns)."""
    reader, is_header = _recognise(cells, following, notices)
    if is_header:
        texts = tuple("" if cell is None else str(cell).strip() for cell in cells)
        reader = dataclasses.replace(reader, headers=texts)
    return reader, is_header


def _recognise(
    cells: Sequence[Any],
    following: Callable[[], Sequence[Any] | None] | None,
    notices: list[str] | None,
) -> tuple[RowReader, bool]:
    first = normalise_header(cells[0]) if cells else ""
    for layout in LAYOUTS:
        if layout.updates_only:
            reader = _updates_only_reader(layout, cells)
            if reader is not None:
                return reader, True
    positional = [layout for layout in LAYOUTS if not layout.by_header]
    # Header rows: the positional layouts first (their headers also name fields of the
    # current layout); a near miss is read by position when the rows name the layout,
    # and otherwise reported against the closest layout.
    for layout in positional:
        reader = _header_reader(layout, cells)
        if reader is not None:
            return reader, True
    near = [layout for layout in positional if first in layout.columns[0].header_keys()]
    if near:
        reader = _near_miss(cells, near, following() if following else None, notices)
        if reader is not None:
            return reader, True
        _reject_header(cells, near)
    for layout in LAYOUTS:
        if layout.by_header and not layout.updates_only:
            reader = _header_reader(layout, cells)
            if reader is not None:
                return reader, True
    # Header-less: the Template column, then the field count.
    for layout in LAYOUTS:
        if first in layout.template_keys:
            return _positional(layout), False
    if first.startswith("template"):
        raise FileRejected(
            f"The first column says {str(cells[0]).strip()!r}, which is not a template this "
            f"system accepts. Accepted layouts: {accepted_layouts()}."
        )
    for layout in LAYOUTS:
        if layout.by_field_count and _fits_field_count(layout, cells):
            return _positional(layout), False
    raise FileRejected(
        "The layout of the file was not recognized: it has no header row we know, its first "
        "column does not name a template, and it is not the 43-field layout. "
        f"Accepted layouts: {accepted_layouts()}."
    )


def _fits_field_count(layout: Layout, cells: Sequence[Any]) -> bool:
    """At least the fixed columns and one supporter block, and (the one such layout
    starting with the reporting year) a 4-digit year in the first column."""
    if len(cells) < len(layout.columns) + len(layout.supporter_block):
        return False
    if layout.columns[0].target == "reporting_year":
        return re.fullmatch(r"\d{4}", str(cells[0]).strip()) is not None
    return True


def _positional(layout: Layout) -> RowReader:
    return RowReader(layout, tuple(enumerate(layout.columns)))


def _header_reader(layout: Layout, cells: Sequence[Any]) -> RowReader | None:
    keys = [normalise_header(cell) for cell in cells]
    if not layout.by_header:
        if len(keys) < len(layout.columns):
            return None
        if all(
            key in column.header_keys() for key, column in zip(keys, layout.columns, strict=False)
        ):
            return _positional(layout)
        return None
    identity = layout.columns[[c.target for c in layout.columns].index("provider_activity_id")]
    if not identity.header_keys() & set(keys):
        return None
    return _by_header(layout, cells, keys)


def _updates_only_reader(layout: Layout, cells: Sequence[Any]) -> RowReader | None:
    """A header row of the Learner Counts layout: every header one of its columns, an
    identifying column and a learner count among them. (A row with any other header is
    another layout's: the current layout's, which has all these columns too, needs the
    title, format and dates an activity cannot do without.)"""
    keys = [normalise_header(cell) for cell in cells]
    by_key = {key: column.target for column in layout.columns for key in column.header_keys()}
    named = [key for key in keys if key]
    if not named or any(key not in by_key for key in named):
        return None
    targets = {by_key[key] for key in named}
    if not targets & set(LEARNER_COUNTS_IDS) or not targets & set(_LEARNER_COUNTS_MARKS):
        return None
    return _by_header(layout, cells, keys)


def _by_header(layout: Layout, cells: Sequence[Any], keys: list[str]) -> RowReader:
    by_key = {key: column for column in layout.columns for key in column.header_keys()}
    block_by_key = {
        key: column for column in layout.supporter_block for key in column.header_keys()
    }
    supporter = re.compile(rf"^{normalise_header(layout.supporter_prefix)}(\d+)(\w+)$")
    fixed: list[tuple[int, Column]] = []
    blocks: dict[int, list[tuple[int, Column]]] = {}
    seen: set[tuple[str, int]] = set()
    unknown: list[str] = []
    duplicates: list[str] = []
    unnamed: set[int] = set()
    for position, (cell, key) in enumerate(zip(cells, keys, strict=True)):
        if not key:
            unnamed.add(position)
            continue
        match = supporter.match(key) if layout.supporter_prefix else None
        if key in by_key:
            column, number = by_key[key], 0
            fixed.append((position, column))
        elif match and match.group(2) in block_by_key:
            column, number = block_by_key[match.group(2)], int(match.group(1))
            if number < 1:
                unknown.append(str(cell).strip())
                continue
            blocks.setdefault(number, []).append((position, column))
        else:
            unknown.append(str(cell).strip())
            continue
        if (column.target, number) in seen:
            duplicates.append(str(cell).strip())
        seen.add((column.target, number))
    if unknown or duplicates:
        parts = []
        if unknown:
            parts.append("unknown columns: " + ", ".join(repr(text) for text in unknown))
        if duplicates:
            parts.append("repeated columns: " + ", ".join(repr(text) for text in duplicates))
        raise FileRejected(
            f"The header row of the {layout.title} layout has " + "; ".join(parts) + ". "
            "Use the column headers of the downloadable template (its Instructions sheet "
            "lists them)."
        )
    numbered = tuple(tuple(blocks.get(n, ())) for n in range(1, max(blocks, default=0) + 1))
    return RowReader(
        layout, tuple(fixed), blocks=numbered, width=len(cells), unnamed=frozenset(unnamed)
    )


_LISTED = 20  # differing headers named one by one in the notices


def _near_miss(
    cells: Sequence[Any],
    candidates: list[Layout],
    following: Sequence[Any] | None,
    notices: list[str] | None,
) -> RowReader | None:
    """A header row worded differently from a positional layout's (ACCME's templates
    were retyped by hand): read by position when the first data row names the layout
    in its Template column and has the layout's columns; each differing header is
    named in `notices`. None when the rows do not say which layout they are, or when
    more than a quarter of the headers differ (that is no rewording)."""
    if not following:
        return None
    marker = normalise_header(following[0])
    layout = next((each for each in candidates if marker in each.template_keys), None)
    needed = len(layout.columns) if layout else 0
    if layout is None or len(cells) < needed or len(following) < needed:
        return None
    differing = [
        index
        for index, column in enumerate(layout.columns)
        if normalise_header(cells[index]) not in column.header_keys()
    ]
    if len(differing) * 4 > needed:
        return None  # not a rewording: another layout's header, or none
    if notices is not None:
        notices.append(
            f"The header row differs from the {layout.title} layout's; the rows say "
            f"'{str(following[0]).strip()}', so the columns were read by position."
        )
        notices.extend(
            f"Column {index + 1} is headed '{str(cells[index]).strip()}'; read as "
            f"'{layout.columns[index].header}'."
            for index in differing[:_LISTED]
        )
        if len(differing) > _LISTED:
            notices.append(f"{len(differing) - _LISTED} more column headers differ.")
    return _positional(layout)


def _reject_header(cells: Sequence[Any], candidates: list[Layout]) -> None:
    """A header row of a positional layout that matches none: name the closest layout's
    first differing column."""
    keys = [normalise_header(cell) for cell in cells]

    def mismatches(layout: Layout) -> list[int]:
        return [
            index
            for index, column in enumerate(layout.columns)
            if index >= len(keys) or keys[index] not in column.header_keys()
        ]

    closest = min(candidates, key=lambda layout: len(mismatches(layout)))
    index = mismatches(closest)[0]
    found = repr(str(cells[index]).strip()) if index < len(cells) else "nothing"
    raise FileRejected(
        f"The header row matches no accepted layout. The closest is the {closest.title} "
        f"layout, but its column {index + 1} should be "
        f"{closest.columns[index].header!r} and the file has {found}. "
        f"Accepted layouts: {accepted_layouts()}."
    )
