"""How a file's rows are read by an activity layout (`pars.activities.parsers.layouts`):
which layout a file has, and the :class:`RowReader` that turns each of its rows into
the raw values the validator reads. A reader is generated for each row length a file
has (in rows of one length every column is at a known position); the plain
column-by-column reading, :meth:`RowReader.read_each`, is kept for the other lengths and
as the reference the generated readers must equal (tests/activities/test_fast_paths.py).

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

from pars.activities.parsers.cells import yes_no
from pars.activities.parsers.layouts import (
    _LEARNER_COUNTS_MARKS,
    ACTIVITY_DATE,
    IGNORED,
    IN_KIND_OTHER,
    LAYOUTS,
    LEARNER_COUNTS_IDS,
    TEMPLATE,
    Column,
    Layout,
    accepted_layouts,
)
from pars.intake.readers import FileRejected, ParsedRow, blank
from pars.intake.readers.headers import normalise_header

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
        """The row's ParsedRow: by the function generated for rows of its length (see
        _row_source), or, for a length that has none, by :meth:`read_each`."""
        fast = self._fast.get(len(cells), _MISSING)
        if fast is _MISSING:
            fast = self._fast_for(len(cells))
        if fast is None:
            return self.read_each(cells, row)
        return fast(cells, row)

    @functools.cached_property
    def _fast(self) -> dict[int, Callable[[Sequence[Any], int], ParsedRow] | None]:
        return {}

    def _fast_for(self, length: int) -> Callable[[Sequence[Any], int], ParsedRow] | None:
        """The generated reader of rows of `length` cells, or None where read_each alone
        knows the answer: a header layout's row of another width than its header, or with
        a column without header (each may hold a stray value), a positional row too short
        for the layout. Made at the first row of that length (a file has one or a few)."""
        if len(self._fast) >= _FAST_LENGTHS:
            return None
        fast = None
        if self.blocks is None:
            if length >= len(self.layout.columns):
                fast = self._generated(length, self._positional_blocks(length))
        elif length == self.width and not self.unnamed:
            fast = self._generated(length, self.blocks)
        self._fast[length] = fast
        return fast

    def _generated(
        self, length: int, blocks: Sequence[tuple[tuple[int, Column], ...]]
    ) -> Callable[[Sequence[Any], int], ParsedRow]:
        namespace: dict[str, Any] = {
            "ParsedRow": ParsedRow,
            "apply": _apply,
            "supporter_of": _supporter,
            "blank": blank,
            "layout": self.layout,
            "columns": self.columns,
        }
        source = _row_source(self, length, blocks, namespace)
        exec(compile(source, f"<{self.layout.name} row reader>", "exec"), namespace)  # noqa: S102 (our own source, from the layout)
        return namespace["read"]

    def read_each(self, cells: Sequence[Any], row: int) -> ParsedRow:
        """The row's ParsedRow, column by column (what the generated readers do)."""
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


_MISSING: Any = object()
_FAST_LENGTHS = 16  # row lengths given a generated reader, per file


def _row_source(
    reader: RowReader,
    length: int,
    blocks: Sequence[tuple[tuple[int, Column], ...]],
    namespace: dict[str, Any],
) -> str:
    """``read(cells, row)`` for rows of `length` cells: RowReader.read_each's steps for
    them, unrolled (every position is known, so no bounds test per cell): the plain cells
    copied in one dict display, the other fixed columns through _apply, the supporter
    blocks of plain columns each one dict display (others through _supporter)."""

    def cell(position: int) -> str:
        return f"cells[{position}]" if position < length else "''"

    plain = ", ".join(f"{target!r}: {cell(position)}" for position, target in reader._plain)
    lines = ["def read(cells, row):\n", f"    data = {{{plain}}}\n", "    problem = None\n"]
    for index, (position, column) in enumerate(reader._special):
        namespace[f"column{index}"] = column
        lines.append(
            f"    problem = apply(data, column{index}, {cell(position)}, layout) or problem\n"
        )
    if reader.layout.supporter_block and (reader.blocks is None or reader.blocks):
        made = []
        for index, block in enumerate(blocks):
            if all(column.code is None and column.target != IN_KIND_OTHER for _, column in block):
                made.append(
                    "{"
                    + ", ".join(
                        f"{column.target!r}: {cell(position)}" for position, column in block
                    )
                    + "}"
                )
            else:
                namespace[f"block{index}"] = block
                made.append(f"supporter_of(cells, block{index})")
        lines.append(f"    supporters = [{', '.join(made)}]\n")
        lines.append(
            "    while supporters and all(blank(value) for value in supporters[-1].values()):\n"
            "        supporters.pop()\n"
            "    data['supporters'] = supporters\n"
        )
    lines.append("    return ParsedRow(row, data, problem, columns)\n")
    return "".join(lines)


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
