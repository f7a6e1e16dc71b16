"""Activities in COPY's text format: the big batches of a file go to PostgreSQL by COPY.

Each row is one line, written by a function generated for the batch's columns
(_line_writer) that picks the row's values at once and formats them in one f-string, no
Python call per value. None is NULL (\\N), an empty text stays empty, and PostgreSQL
reads the rest (True, 2026-03-01, 1E+1, a timestamp) as its column's type. A line holding
a backslash, a tab or a line break is written again by the plain path (_copy_cell per
value), which escapes them; the fast line equals it otherwise
(tests/activities/test_fast_paths.py).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from typing import Any

from django.db import models

_NULL = "\\N"
_COPY_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_cell(value: Any, *, json_column: bool = False) -> str:
    """One value in COPY's text format: a JSON column's list as JSON text ([] for none)."""
    if json_column:
        text = json.dumps(value) if value else "[]"
    elif value is None:
        return _NULL
    else:
        text = str(value)
    return text.translate(_COPY_SPECIAL)


def copy_plain(
    fields: Sequence[models.Field[Any, Any]],
    rows: Iterable[Mapping[str, Any]],
    fixed: Mapping[str, object],
    ids: Sequence[int] = (),
) -> tuple[str, str]:
    """copy_rows value by value: what the generated line writers stand in for."""
    varying = [f for f in fields if f.name not in fixed]
    constant = [f for f in fields if f.name in fixed]
    leads: Iterable[tuple[int, ...]] = ((pk,) for pk in ids) if ids else repeat(())
    lines = []
    for values, lead in zip(rows, leads, strict=False):  # leads: endless without ids
        cells = [str(pk) for pk in lead]
        cells += [_copy_cell(values.get(f.name), json_column=_is_json(f)) for f in varying]
        cells += [_copy_cell(fixed[f.name], json_column=_is_json(f)) for f in constant]
        lines.append("\t".join(cells) + "\n")
    columns = ", ".join(["id"] * bool(ids) + [str(f.column) for f in (*varying, *constant)])
    return columns, "".join(lines)


def _is_json(field: models.Field[Any, Any]) -> bool:
    return field.get_internal_type() == "JSONField"


def copy_rows(
    fields: Sequence[models.Field[Any, Any]],
    rows: Iterable[Mapping[str, Any]],
    fixed: Mapping[str, object],
    ids: Sequence[int] = (),
) -> tuple[str, str]:
    """(column list, COPY text) of `rows` (values by field name); the columns in `fixed`
    take its value in every row, a JSON column takes its list as JSON text. With `ids`,
    each row starts with its primary key (the same number of them as rows)."""
    varying = [f for f in fields if f.name not in fixed]
    constant = [f for f in fields if f.name in fixed]
    names = tuple(f.name for f in varying)
    line = _line_writer(names, tuple(_cell_kind(f) for f in varying))(*_batch_texts())
    # Written once, not once per row (a timestamp's text is dear).
    tail = "".join("\t" + _copy_cell(fixed[f.name], json_column=_is_json(f)) for f in constant)
    lines = []
    for values in rows:
        try:
            text = line(values)
        except KeyError:  # a record without some field: NULL, as the VALUES path writes it
            text = line({name: values.get(name) for name in names})
        lines.append(text)
    if ids:
        text = "".join([f"{pk}\t{body}{tail}\n" for pk, body in zip(ids, lines, strict=True)])
    else:
        text = "".join([f"{body}{tail}\n" for body in lines])
    columns = ", ".join(["id"] * bool(ids) + [str(f.column) for f in (*varying, *constant)])
    return columns, text


def _cell_kind(field: models.Field[Any, Any]) -> str:
    """How the generated line writes a column's value: "json", "date" or "plain"."""
    if _is_json(field):
        return "json"
    return "date" if field.get_internal_type() == "DateField" else "plain"


def _batch_texts() -> tuple[Callable[[Any], str], dict[Any, str], Callable[[Any], str]]:
    """(json_text, dates, date_text): the texts of JSON lists and of dates, remembered for
    the batch (most lists repeat: one code, the same outcomes; so do dates, whose text is
    dear). A JSON text is unescaped (the line is checked as a whole)."""
    single: dict[str, str] = {}  # by the one code of a list
    known: dict[str, str] = {}  # by the repr of any other list
    dates: dict[Any, str] = {}
    dumps = json.dumps

    def json_text(value: Any) -> str:
        if not value:
            return "[]"
        if value.__class__ is list and len(value) == 1 and value[0].__class__ is str:
            texts, key = single, value[0]  # one code, as most lists hold
        else:
            # The same repr, the same JSON: for JSON's types, repr tells every value apart.
            texts, key = known, repr(value)
        text = texts.get(key)
        if text is None:
            text = texts[key] = dumps(value)
        return text

    def date_text(value: Any) -> str:
        text = str(value)
        if value.__class__ is datetime.date:  # equal dates, the same text (not so 1 and 1.0)
            dates[value] = text
        return text

    return json_text, dates, date_text


@lru_cache(maxsize=16)
def _line_writer(
    names: tuple[str, ...], kinds: tuple[str, ...]
) -> Callable[..., Callable[[Mapping[str, Any]], str]]:
    """``make(json_text, dates, date_text)`` (_batch_texts), giving the COPY line of a row
    of these fields (without its line break): every value picked at once, each formatted
    by the f-string's own expression; a line with a character to escape (a backslash
    other than a NULL's, a tab, a line break) is written by _copy_cell instead."""
    values = ", ".join(f"v{index}" for index in range(len(names))) + ","
    cell = {
        "json": "{{'[]' if not v{0} else json_text(v{0})}}",
        "date": "{{NULL if v{0} is None else dates.get(v{0}) or date_text(v{0})}}",
        "plain": "{{NULL if v{0} is None else v{0}!s}}",
    }
    cells = "\\t".join(cell[kind].format(index) for index, kind in enumerate(kinds))
    json_nones = "".join(
        f" - (v{index} is None)" for index, kind in enumerate(kinds) if kind == "json"
    )
    source = (
        "def make(json_text, dates, date_text):\n"
        "    def line(row):\n"
        "        picked = (pick(row),) if single else pick(row)\n"
        f"        {values} = picked\n"
        f'        text = f"{cells}"\n'
        # Each NULL holds one of the line's backslashes, and nothing else holds one (a JSON
        # column's None is no NULL: it is written []).
        f"        nulls = picked.count(None){json_nones}\n"
        "        if (text.count('\\\\') != nulls or '\\n' in text\n"
        "                or '\\r' in text or text.count('\\t') != tabs):\n"
        "            return '\\t'.join(map(plain, picked, json_at))\n"
        "        return text\n"
        "    return line\n"
    )
    namespace: dict[str, Any] = {
        "pick": itemgetter(*names),
        "single": len(names) == 1,
        "tabs": len(names) - 1,
        "NULL": _NULL,
        "plain": lambda value, is_json: _copy_cell(value, json_column=is_json),
        "json_at": [kind == "json" for kind in kinds],
    }
    exec(compile(source, "<activity COPY line>", "exec"), namespace)  # noqa: S102 (our own source, from the model's fields)
    make: Callable[..., Callable[[Mapping[str, Any]], str]] = namespace["make"]
    return make
