"""The validator's fast path: the rows big files are made of, judged by what they repeat.

A learner file of 500,000 rows says the same things again and again: a few hundred
activities, a handful of recipients, a few hundred days, the same credits, the same
learners on many rows. validate_completion() reads every field of every row; here a row
is cut into groups of cells whose verdict depends on those cells alone (with the
recipient's rules and the day): the activity, recipient and action; the birth date; the
completion date; the credit and REMS fields. Each group's cells are judged once, **by
the general path's own functions**, and the verdict is remembered. The names and the
learner's identifiers mostly differ from row to row: they are read on every row, as the
readers take plain text at once (_Plan.plain_learner()).

The fast path only ever says yes: a row becomes its clean record here when every group
passes; a row with any group refused, a value that is not text (JSON's and Excel's
numbers, dates, lists), or an action other than "add" goes to the general path, which
finds and reports its errors. So a row gets the same record, and a refused row the same
errors, either way (tests/learners/test_fast_paths.py checks it).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import sys
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any, cast

from pars.intake.fields import FieldSpec, Kind, Limit
from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME

from . import completions as general
from .readers import _Errors, _lookup, field_readers, month_day
from .recipients import RecipientRules, recipient_specs
from .record_fields import (
    _LIST_FIELD_NAMES,
    PLAIN_TYPES,
    RECORD_FIELD_NAMES,
    _record_values,
)

# The raw fields validate_completion() reads, by group, in the order of a row's values.
_HEAD = ("provider_activity_id", "accme_activity_id", "recipient", "action")
_NAMES = ("first_name", "last_name")
_BIRTH = ("birth_date", "birth_month", "birth_day")
_WHO = ("learner_id", "npi", "license_state")
_DAY = "completion_date"
FIELDS = (*_HEAD, *_NAMES, *_BIRTH, *_WHO, _DAY, *RECORD_FIELD_NAMES)

_MEMO_LIMIT = 20_000  # verdicts remembered per memo (a full memo starts again)
_UNKNOWN: Any = object()  # not judged yet (None: judged, and refused)

# Verdicts that need no recipient: (activity, ACCME ID, recipient code) by the raw
# (activity, ACCME ID, recipient, action); (month, day) by the raw birth cells.
_heads: dict[tuple[Any, ...], tuple[str, str, str] | None] = {}
_births: dict[tuple[Any, ...], tuple[int, int] | None] = {}


class _Plan:
    """One recipient's verdicts on one day (its limits and window are the day's)."""

    __slots__ = (
        "days",
        "digits_only",
        "first_longest",
        "id_longest",
        "last_longest",
        "limits",
        "readers",
        "records",
        "rules",
        "simple_limits",
        "specs",
        "states",
        "today",
        "windows",
    )

    def __init__(
        self, rules: RecipientRules, today: datetime.date, specs: Mapping[str, FieldSpec]
    ) -> None:
        self.rules = rules
        self.today = today
        self.specs = specs
        self.readers = field_readers(specs)
        # Both set (see _applies()).
        self.first_longest: int = specs["first_name"].max_length or 0
        self.last_longest: int = specs["last_name"].max_length or 0
        self.limits = [(name, specs[name].limits) for name in _WHO if specs[name].limits]
        # A credit type's window depends on the completion date: it joins the key then.
        self.windows = bool(rules.credit_type_windows)
        self.days: dict[Any, datetime.date | None] = {}
        self.records: dict[tuple[Any, ...], tuple[dict[str, Any], str] | None] = {}
        # The plain learner (plain_learner()): what the readers of the identifiers take
        # without a second look, and their limits in the three forms recipients use.
        self.id_longest = specs["learner_id"].max_length or sys.maxsize
        self.digits_only = rules.identifier_digits_only
        self.states = _lookup(specs["license_state"])[0]
        kinds = (specs["learner_id"].kind, specs["npi"].kind, specs["license_state"].kind)
        simple = [
            (_WHO.index(name), [_simple(limit) for limit in limits]) for name, limits in self.limits
        ]
        plain = kinds == (Kind.TEXT, Kind.TEXT, Kind.CHOICE) and all(
            None not in checks for _, checks in simple
        )
        self.simple_limits = (
            cast(list[tuple[int, list[tuple[str, Any]]]], simple) if plain else None
        )

    def learner(self, learner_id: Any, npi: Any, license_state: Any) -> tuple[str, str, str] | None:
        """The learner's identifiers as general._learner_ids() reads them and within the
        recipient's limits (as general._judge_limits() judges a record with no error
        yet: any limit refusing its value is an error), or None."""
        errors = _Errors(None)
        ids = general._learner_ids(learner_id, npi, license_state, self.rules, self.readers, errors)
        if errors.errors:
            return None
        for name, limits in self.limits:
            value = ids[name]
            for limit in limits:
                if limit.refuses(value, ids):
                    return None
        return ids["learner_id"], ids["npi"], ids["license_state"]

    def plain_learner(
        self, learner_id: str | None, npi: str | None, license_state: str | None
    ) -> tuple[str, str, str] | None:
        """learner() of the cells most rows have (learner IDs seldom repeat: this runs on
        most rows): a learner ID of plain text, no NPI, a license state's code or name.
        What the text and choice readers take at once is taken here, the ID written as
        the recipient writes it, and the limits judged as Limit.refuses() judges them
        (see _simple()); any other cells go to learner()."""
        checks = self.simple_limits
        if checks is None or (npi is not None and npi.strip()):
            return self.learner(learner_id, npi, license_state)
        clean_id = "" if learner_id is None else learner_id.strip()
        if clean_id and (len(clean_id) > self.id_longest or not clean_id.isprintable()):
            return self.learner(learner_id, npi, license_state)
        state = "" if license_state is None else license_state.strip()
        if state:
            code = self.states.get(state.lower())
            if code is None:
                return self.learner(learner_id, npi, license_state)
            state = code
        if clean_id and self.digits_only and not clean_id.isdigit():
            # An ID of digits alone has no space or dash to drop.
            clean_id = self.rules.normalise_identifier(clean_id)
        ids = (clean_id, "", state)
        for index, limits in checks:
            value = ids[index]
            for form, given in limits:
                if form is _PATTERN:
                    if value and given.fullmatch(value) is None:
                        return None
                elif form is _REQUIRED:
                    if not value and not (given and ids[_WHO.index(given)]):
                        return None
                elif value and value not in given:  # _ONE_OF
                    return None
        return ids


_PATTERN, _REQUIRED, _ONE_OF = "pattern", "required", "one_of"


def _simple(limit: Limit) -> tuple[str, Any] | None:
    """A limit in one of the forms plain_learner() judges, or None. The limit must equal
    the one made of that form alone (so a limit that sets anything else is not taken):
    a pattern refuses a text that is not blank and does not match; a requirement refuses
    a blank text unless its `unless` field has a value; a list refuses a text that is not
    blank and not in it (Limit.refuses, for text values)."""
    if limit.pattern is not None and limit == Limit(
        limit.suffix, limit.message, pattern=limit.pattern
    ):
        return _PATTERN, limit.pattern
    if limit == Limit(limit.suffix, limit.message, required=True, unless=limit.unless):
        return _REQUIRED, limit.unless
    if limit.one_of and limit == Limit(limit.suffix, limit.message, one_of=limit.one_of):
        return _ONE_OF, limit.one_of
    return None


def _applies(specs: Mapping[str, FieldSpec]) -> bool:
    """Whether the groups are independent as the fast path takes them, for these specs:
    the names plain text of a known length, and each limit of the learner's identifiers
    and of the completion date looking at no field outside its own group."""
    for name in _NAMES:
        spec = specs[name]
        if spec.kind is not Kind.TEXT or not spec.max_length:
            return False
    who = {"", *_WHO}
    return all(limit.unless in who for name in _WHO for limit in specs[name].limits) and all(
        limit.unless in ("", _DAY) for limit in specs[_DAY].limits
    )


_plans: dict[tuple[int, datetime.date], tuple[RecipientRules, _Plan | None]] = {}


def _plan(rules: RecipientRules, today: datetime.date) -> _Plan | None:
    key = (id(rules), today)
    entry = _plans.get(key)
    if entry is None or entry[0] is not rules:
        specs = recipient_specs(rules, today)
        plan = _Plan(rules, today, specs) if _applies(specs) else None
        if len(_plans) >= 1_000:
            _plans.clear()
        # The rules object is kept with the entry, so that its id cannot be reused.
        entry = _plans[key] = (rules, plan)
    return entry[1]


class _Layout:
    """Where a kind of row (its fields, in its order: a file's header) has each value:
    the row's values are taken at once (itemgetter), with a None for a field it has not
    at the end, and each group's cells picked from them at once."""

    __slots__ = (
        "birth",
        "day",
        "first",
        "head",
        "last",
        "record",
        "record_and_day",
        "values",
        "who",
    )

    def __init__(self, names: tuple[str, ...]) -> None:
        present = [name for name in FIELDS if name in names]
        at = {name: index for index, name in enumerate(present)}
        missing = len(present)  # the None added after the row's values

        def pick(*wanted: str) -> Any:
            return itemgetter(*(at.get(name, missing) for name in wanted))

        self.values = itemgetter(*present)
        self.head = pick(*_HEAD)
        self.first = at.get("first_name", missing)
        self.last = at.get("last_name", missing)
        self.birth = pick(*_BIRTH)
        self.who = pick(*_WHO)
        self.day = at.get(_DAY, missing)
        self.record = pick(*RECORD_FIELD_NAMES)
        self.record_and_day = pick(_DAY, *RECORD_FIELD_NAMES)


_layouts: dict[tuple[Any, ...], _Layout | None] = {}


def _layout(names: tuple[Any, ...]) -> _Layout | None:
    layout = _layouts.get(names, _UNKNOWN)
    if layout is _UNKNOWN:
        # Fewer than two of the fields: no record to vouch for (and no tuple to take).
        layout = _Layout(names) if len(set(FIELDS).intersection(names)) >= 2 else None
        if len(_layouts) >= 1_000:
            _layouts.clear()
        _layouts[names] = layout
    return cast(_Layout | None, layout)


def fast_completion(
    raw: Mapping[str, Any], recipients: Mapping[str, RecipientRules], today: datetime.date
) -> general.CleanCompletion | None:
    """The row's clean record when the fast path can vouch for it, else None (the general
    path then judges the row: see the module docstring)."""
    layout = _layouts.get(tuple(raw)) or _layout(tuple(raw))
    if layout is None:
        return None
    values = (*layout.values(raw), None)
    if not PLAIN_TYPES.issuperset(map(type, values)):
        return None
    key = layout.head(values)
    head = _heads.get(key, _UNKNOWN)
    if head is _UNKNOWN:
        head = _judged(_heads, key, _head(key))
    if head is None:
        return None
    rules = recipients.get(head[2])
    if rules is None:
        return None
    plan = _plan(rules, today)
    if plan is None:
        return None
    return _vouched(plan, layout, values, head)


def _vouched(
    plan: _Plan, layout: _Layout, values: tuple[Any, ...], head: tuple[str, str, str]
) -> general.CleanCompletion | None:
    """The rest of fast_completion(), once the recipient's plan is known."""
    # The names, on every row: plain text within the length (else the general path).
    first = values[layout.first]
    if first is None:
        return None
    first = first.strip()
    if not first or len(first) > plan.first_longest or not first.isprintable():
        return None
    last = values[layout.last]
    if last is None:
        return None
    last = last.strip()
    if not last or len(last) > plan.last_longest or not last.isprintable():
        return None

    key = layout.birth(values)
    birth = _births.get(key, _UNKNOWN)
    if birth is _UNKNOWN:
        found = month_day(dict(zip(_BIRTH, key, strict=True)))
        birth = _judged(_births, key, found if isinstance(found, tuple) else None)
    if birth is None:
        return None

    # Learner IDs seldom repeat in a file: they are judged on every row (not remembered).
    who = plan.plain_learner(*layout.who(values))
    if who is None:
        return None

    cell = values[layout.day]
    day = plan.days.get(cell, _UNKNOWN)
    if day is _UNKNOWN:
        day = _judged(plan.days, cell, _day(plan, cell))
    if day is None:
        return None

    key = layout.record_and_day(values) if plan.windows else layout.record(values)
    record = plan.records.get(key, _UNKNOWN)
    if record is _UNKNOWN:
        record = _judged(plan.records, key, _record(plan, layout.record(values), day))
    if record is None:
        return None

    shared, part = record
    learner_id, npi, license_state = who
    code = plan.rules.code
    learner = general.learner_key(code, learner_id, npi, license_state, first, last, *birth)
    return _made(code, head, first, last, birth, learner + part, who, day, shared)


def _made(
    code: str,
    head: tuple[str, str, str],
    first: str,
    last: str,
    birth: tuple[int, int],
    key: str,
    who: tuple[str, str, str],
    day: datetime.date,
    shared: dict[str, Any],
) -> general.CleanCompletion:
    """The vouched row's clean record (see _record_maker)."""
    learner_id, npi, license_state = who
    make = _record_maker()
    if make is not None:
        return make(
            "add",
            code,
            head[0],
            head[1],
            first,
            last,
            birth[0],
            birth[1],
            key,
            learner_id,
            npi,
            license_state,
            day,
            shared,
        )
    fields = dict(shared)
    for name in _LIST_FIELD_NAMES:  # lists are mutable: each record gets its own
        fields[name] = list(fields[name])
    return general.CleanCompletion(
        action="add",
        recipient=code,
        provider_activity_id=head[0],
        accme_activity_id=head[1],
        first_name=first,
        last_name=last,
        birth_month=birth[0],
        birth_day=birth[1],
        learner_key=key,
        learner_id=learner_id,
        npi=npi,
        license_state=license_state,
        completion_date=day,
        **fields,
    )


# The attributes _vouched() sets from the row, in the order _record_maker()'s takes them.
_ROW_ATTRIBUTES = (
    "action",
    "recipient",
    "provider_activity_id",
    "accme_activity_id",
    "first_name",
    "last_name",
    "birth_month",
    "birth_day",
    "learner_key",
    "learner_id",
    "npi",
    "license_state",
    "completion_date",
)


@functools.cache  # made on first use: the record's class is made after this module
def _record_maker() -> Callable[..., general.CleanCompletion] | None:
    """The clean record of a vouched row, made by one function generated from the
    record's attributes: the row's values, then the record fields from the remembered
    verdict (its lists copied: each record gets its own), every attribute set at once
    (the dataclass's keyword __init__ costs about twice as much per row). None, so the
    dataclass is called, unless those are exactly the record's attributes."""
    attributes = [field.name for field in dataclasses.fields(cast(Any, general.CleanCompletion))]
    rest = [name for name in attributes if name not in _ROW_ATTRIBUTES]
    if len(attributes) != len(_ROW_ATTRIBUTES) + len(rest) or sorted(rest) != sorted(
        RECORD_FIELD_NAMES
    ):
        return None
    lines = [f"def make(new, cls, {', '.join(_ROW_ATTRIBUTES)}, fields):", "    record = new(cls)"]
    lines += [f"    record.{name} = {name}" for name in _ROW_ATTRIBUTES]
    for name in rest:
        value = f"list(fields[{name!r}])" if name in _LIST_FIELD_NAMES else f"fields[{name!r}]"
        lines.append(f"    record.{name} = {value}")
    lines.append("    return record")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines) + "\n", "<vouched record>", "exec"), namespace)  # noqa: S102 (our own source, from the attributes)
    return functools.partial(namespace["make"], object.__new__, general.CleanCompletion)


def _judged[V](memo: dict[Any, V], key: Any, verdict: V) -> V:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = verdict
    return verdict


# Each group judged by the general path's functions, on its own cells: None when refused.


def _head(cells: tuple[Any, ...]) -> tuple[str, str, str] | None:
    provider_activity_id, accme_activity_id, recipient, action = cells
    errors = _Errors(None)
    readers = field_readers(COMPLETION_FIELDS_BY_NAME)
    if general._action({"action": action}, errors) != "add":
        return None
    provider_activity_id = readers["provider_activity_id"](provider_activity_id, errors)
    accme_activity_id = readers["accme_activity_id"](accme_activity_id, errors)
    general._activity_ids(provider_activity_id, accme_activity_id, errors)
    code = readers["recipient"](recipient, errors).upper()
    if errors.errors or not code:
        return None
    return provider_activity_id, accme_activity_id, code


def _day(plan: _Plan, cell: Any) -> datetime.date | None:
    errors = _Errors(None)
    day = general._completion_date({_DAY: cell}, plan.readers, plan.today, errors)
    general._judge_limits({_DAY: day}, plan.specs, errors)
    return None if errors.errors else day


def _record(plan: _Plan, cells: Any, day: datetime.date) -> tuple[dict[str, Any], str] | None:
    rules, errors = plan.rules, _Errors(None)
    if len(RECORD_FIELD_NAMES) == 1:
        cells = (cells,)  # itemgetter of one item gives the item
    raw = dict(zip(RECORD_FIELD_NAMES, cells, strict=True))
    fields = _record_values(raw, rules, plan.specs, errors)
    if rules.credit_type_windows:
        general._credit_type_windows(rules, fields, day, errors)
    if errors.errors:
        return None
    part = general._part(rules, raw, plan.specs, fields) if rules.separate_credit_types else ""
    return fields, part
