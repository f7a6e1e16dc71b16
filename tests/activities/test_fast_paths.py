"""The activity file's fast paths read and write exactly what the plain paths do.

A big file is read through shortcuts: Yes/No cells and codes looked up in dictionaries
made once from the data dictionary, each field's text reader chosen once (and
remembering what it read), and the writer's batches sent to PostgreSQL as COPY text
(each row's line by a function generated for its columns) instead of parameters. Each
shortcut is checked here against the path it stands in for, over every code list of the
dictionary and text hypothesis draws, so that a file never gets another answer than the
form or the JSON API would.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pars.accounts.access import get_api_access
from pars.accounts.services import create_api_key
from pars.activities import copy_text, field_readers, services, validation
from pars.activities.dictionary import FIELDS, SUPPORTER_FIELDS
from pars.activities.models import Activity, CommercialSupport
from pars.activities.parsers.cells import _read_yes_no, yes_no
from pars.activities.parsers.layouts import CURRENT, LAYOUTS
from pars.activities.parsers.row_readers import RowReader, _positional, recognise
from pars.activities.services import SMALL_BATCH, apply_activities
from pars.intake.coerce import Invalid, read_choice
from pars.intake.fields import FieldSpec
from pars.providers.models import Provider
from pars.testing import course_json

TODAY = datetime.date(2026, 11, 27)
PLAIN = [spec for spec in FIELDS if spec.name not in ("provider_activity_id", "supporters")]
CODED = [spec for spec in (*FIELDS, *SUPPORTER_FIELDS) if spec.choices]


def _outcome(read: Any, *args: Any) -> tuple[str, Any]:
    """What a reader gives: its value, or the rule and message it refuses with."""
    try:
        return "value", read(*args)
    except Invalid as invalid:
        return "refused", (invalid.rule_id("activity", "f"), invalid.message)
    except ValueError as error:
        return "refused", str(error)


def _spellings(spec: FieldSpec) -> st.SearchStrategy[str]:
    """A code or label of the field, as files write it: any case, maybe padded."""
    texts = [*spec.choices, *spec.choices.values()]
    cases: list[Callable[[str], str]] = [str.lower, str.upper, str.title, str.capitalize, str]
    return st.tuples(
        st.sampled_from(texts), st.sampled_from(cases), st.sampled_from(["", " ", "\t", "\xa0"])
    ).map(lambda drawn: drawn[2] + drawn[1](drawn[0]) + drawn[2])


_FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("spec", CODED, ids=lambda spec: spec.name)
@_FAST
@given(data=st.data())
def test_a_code_cell_reads_as_the_plain_lookup_reads_it(spec: FieldSpec, data: Any) -> None:
    text = data.draw(st.one_of(_spellings(spec), st.text(max_size=12)))
    plain = (
        spec.label,
        text,
        field_readers._choice_lookup(spec),
        field_readers._allowed(spec),
    )
    assert _outcome(field_readers._choice, spec, text) == _outcome(read_choice, *plain)


@pytest.mark.parametrize("spec", PLAIN, ids=lambda spec: spec.name)
@_FAST
@given(data=st.data())
def test_a_text_cell_reads_as_the_field_kind_reads_it(spec: FieldSpec, data: Any) -> None:
    """Each field's reader (chosen once, remembering) against its kind's coercion."""
    samples = [
        st.text(min_size=1, max_size=20),
        st.sampled_from(["Yes", "no", "TRUE", "0", "1.5", "1,000", "$12", "2026", "3.25"]),
        st.sampled_from(["03/01/2026", "2026-02-30", "2026-03-01T10:00Z", " 7 ", "1e2000000"]),
    ]
    if spec.choices:
        samples.append(_spellings(spec))
        samples.append(st.lists(_spellings(spec), min_size=1, max_size=3).map(";".join))
    text = data.draw(st.one_of(samples).filter(lambda drawn: drawn.strip() != ""))
    plain = field_readers._COERCE[spec.kind]
    for _ in range(2):  # the second time from the memo
        assert _outcome(field_readers._TEXT_READERS[spec.name], text) == _outcome(plain, spec, text)


@pytest.mark.parametrize("spec", SUPPORTER_FIELDS, ids=lambda spec: spec.name)
@_FAST
@given(data=st.data())
def test_a_supporter_text_cell_reads_as_the_field_kind_reads_it(spec: FieldSpec, data: Any) -> None:
    """A supporter's fields are read by readers chosen once too (validation._supporters)."""
    samples = [
        st.text(min_size=1, max_size=20),
        st.sampled_from(["Yes", "no", "0", "1,000", "$12", "12.50", "-3", "Pharma\x07 Co"]),
    ]
    if spec.choices:
        samples.append(st.lists(_spellings(spec), min_size=1, max_size=3).map(";".join))
    text = data.draw(st.one_of(samples).filter(lambda drawn: drawn.strip() != ""))
    (read,) = [text for name, text, _, _ in validation._SUPPORTER_READERS if name == spec.name]
    plain = field_readers._COERCE[spec.kind]
    for _ in range(2):  # the second time from the memo
        assert _outcome(read, text) == _outcome(plain, spec, text)


# ---------------------------------------------------------------------------
# The generated functions (one per set of fields, per layout, per year) against the
# loops they unroll

_WORDS = [
    "Yes", "no", "TRUE", "0", "1", "1.5", "1,000", "$12", "2026", "3.25", "-4", "1e2000000",
    "03/01/2026", "2026-02-30", "2026-03-01T10:00Z", " 7 ", "http://example.org/a",
    "ftp://x", "Online; In-Person", "Learner Competence:Objective", "Learner Competence:x",
    "Tab\there", "bell\x07", "\xa0", " ", "\t", "",
]  # fmt: skip


def _cell(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """A cell of the field as any channel hands it: text (codes, words, anything, too
    long), blank, or a native value (JSON, Excel)."""
    cells: list[st.SearchStrategy[Any]] = [
        st.sampled_from(_WORDS),
        st.text(max_size=8),
        st.none(),
        st.sampled_from([True, False, 0, 3, 2.5, 7.0, -1, [], ["online"], ("x",), {"a": 1}]),
        st.just(datetime.date(2026, 3, 1)),
    ]
    if spec.choices:
        cells.append(_spellings(spec))
    if spec.max_length:
        cells.append(st.just("x" * (spec.max_length + 1)))
    return st.one_of(cells)


def _raw_record(specs: list[FieldSpec]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={spec.name: _cell(spec) for spec in specs})


_FIELD_SETS = {
    "all": (field_readers._PLAIN_FIELDS, field_readers._READ_ALL),
    "all but format": (field_readers._ALL_BUT_FORMAT, field_readers._READ_ALL_BUT_FORMAT),
    "all but format and delivery": (
        field_readers._ALL_BUT_FORMAT_AND_DELIVERY,
        field_readers._READ_ALL_BUT_FORMAT_AND_DELIVERY,
    ),
}


def _read_with(read: Callable[..., None], raw: dict[str, Any]) -> tuple[Any, ...]:
    values = validation._BLANK_VALUES.copy()
    errors: list[tuple[str, str, str]] = []
    read(raw.get, values, lambda *error: errors.append(error))
    return values, list(values), errors


@pytest.mark.parametrize("fields", list(_FIELD_SETS), ids=str)
@_FAST
@given(data=st.data())
def test_the_generated_field_reader_reads_a_record_as_the_field_loop_does(
    fields: str, data: Any
) -> None:
    """The unrolled reader of a set of plain fields gives the values, in the same order,
    and the errors that reading them one by one (field_readers._read_each) gives."""
    entries, generated = _FIELD_SETS[fields]
    raw = data.draw(_raw_record(PLAIN))

    def each(get: Any, values: Any, error: Any) -> None:
        field_readers._read_each(entries, get, values, error)

    for _ in range(2):  # the second time from the memos
        assert _read_with(generated, raw) == _read_with(each, raw)


@_FAST
@given(
    action=st.one_of(st.sampled_from(["", " ", "Add", "UPDATE", "delete", "Remove"]), st.text()),
    status=st.one_of(
        st.sampled_from(["", "Closed", "ready to close", "READY_TO_CLOSE", "Open"]), st.text()
    ),
)
def test_an_action_and_status_read_as_the_plain_reading(action: str, status: str) -> None:
    raw = {"action": action, "status": status}
    fast, plain = validation._Checker(3), validation._Checker(3)
    assert validation._action_and_status(fast, raw) == validation._read_action_and_status(
        plain, raw
    )
    assert fast.errors == plain.errors


@pytest.mark.parametrize("year", [None, 2011, 2014, 2015, 2022, 2026])
@_FAST
@given(data=st.data())
def test_the_generated_requirements_find_what_the_requirement_loop_finds(
    year: int | None, data: Any
) -> None:
    values = data.draw(
        st.fixed_dictionaries(
            {
                name: st.sampled_from([None, empty, "x", 0, False, ["a"], Decimal(0)])
                for name, empty, _, _ in validation._required_in(year)
            }
        )
    )
    expected = [
        (required_for, name, rule)
        for name, empty, required_for, rule in validation._required_in(year)
        if values.get(name) is None or values.get(name) == empty
    ]
    assert validation._required_missing(year)(values) == expected


def test_the_generated_fill_gives_each_empty_field_its_blank() -> None:
    values = dict.fromkeys(validation._BLANK_VALUES)
    values["title"] = "Kept"
    validation._fill_empties(values)
    for name, is_list in validation._EMPTY_FILLS:
        assert values[name] == ("Kept" if name == "title" else [] if is_list else "")
    lists = [name for name, is_list in validation._EMPTY_FILLS if is_list]
    assert len({id(values[name]) for name in lists}) == len(lists)  # each its own list


def _readers() -> list[RowReader]:
    """A reader per layout: the positional layouts, the current layout's header (with
    two supporter blocks) and the Learner Counts header."""
    readers = [_positional(layout) for layout in LAYOUTS if not layout.by_header]
    readers.append(recognise(CURRENT.headers(supporters=2))[0])
    readers.append(recognise([*CURRENT.headers(), ""])[0])  # a column without header
    counts = ["Provider Activity ID", "# of Physicians", "# of Other Learners", "Activity Title"]
    readers.append(recognise(counts)[0])
    return readers


_READERS = _readers()


@pytest.mark.parametrize("reader", _READERS, ids=lambda reader: reader.layout.name)
@_FAST
@given(data=st.data())
def test_the_generated_row_reader_reads_a_row_as_the_column_loop_does(
    reader: RowReader, data: Any
) -> None:
    """Rows of every length (short, the header's width, supporter blocks, stray cells),
    with Yes/No flags, Template values and blanks, as RowReader.read_each reads them."""
    width = reader.width or len(reader.layout.columns) + 2 * len(reader.layout.supporter_block)
    template = reader.layout.template_values[:1] or ("x",)
    cell = st.one_of(
        st.sampled_from(["", " ", "Yes", "No", "y", "maybe", "2026", template[0], "Template Z"]),
        st.text(max_size=5),
        st.sampled_from([None, 1, 0, 2.5, True]),
    )
    cells = data.draw(st.lists(cell, min_size=max(width - 12, 0), max_size=width + 10))
    if data.draw(st.booleans()) and len(cells) >= width:
        cells = cells[:width]
    assert reader.read(cells, 7) == reader.read_each(cells, 7)
    assert reader.read(cells, 7) == reader.read_each(cells, 7)  # the reader made, reused


def test_a_header_layout_row_with_a_stray_value_is_read_by_the_column_loop() -> None:
    reader = recognise([*CURRENT.headers(), ""])[0]
    cells = ["" for _ in range(reader.width or 0)]
    cells[0] = "Add"
    cells[-1] = "a value under no header"
    parsed = reader.read(cells, 4)
    assert parsed.problem == f"Column {len(cells)} has a value but no header."


def test_a_remembered_list_is_a_fresh_copy_each_time() -> None:
    read = field_readers._TEXT_READERS["competencies"]
    first = read("Medical Knowledge; Professionalism")
    first.append("changed by a caller")
    assert read("Medical Knowledge; Professionalism") == [
        "abms_medical_knowledge",
        "abms_professionalism",
    ]
    outcomes = field_readers._TEXT_READERS["outcome_measures"]
    taken = outcomes("Learner Competence:Objective")
    taken[0]["measurement_types"].append("subjective")
    assert outcomes("Learner Competence:Objective") == [
        {"outcome": "learner_competence", "measurement_types": ["objective"]}
    ]


@_FAST
@given(
    text=st.one_of(
        st.sampled_from(["Yes", "YES", "y", "N", "No", "false", "True", "1", "0", "", " "]),
        st.text(max_size=6),
    )
)
@example(text="Maybe")
def test_a_yes_no_cell_reads_as_the_plain_reading(text: str) -> None:
    assert _outcome(yes_no, text) == _outcome(_read_yes_no, text)


# ---------------------------------------------------------------------------
# The writer: COPY text (a big batch) against parameters (a small one)

AWKWARD = [
    'Tab\there, "quotes", commas, a back\\slash',
    "Line\nbreak and\r\nCRLF",
    "Braces {0} {} and \\N and NULL",
    "Ünïcödé – “curly” ✓",
    "\\N",  # COPY's NULL, as a title
]


def _copy_value(field: Any) -> st.SearchStrategy[Any]:
    """A value of the model field as the writer may be handed it: its type (JSON: lists of
    codes or of outcomes), None, and text with every character COPY escapes."""
    kind = field.get_internal_type()
    text = st.one_of(st.sampled_from([*AWKWARD, "", "None", "\\", "\t", "a\rb"]), st.text())
    values: dict[str, st.SearchStrategy[Any]] = {
        "DateField": st.dates(),
        "DateTimeField": st.datetimes(timezones=st.just(datetime.UTC)),
        "BooleanField": st.booleans(),
        "DecimalField": st.decimals(allow_nan=False, allow_infinity=False, places=2),
        "JSONField": st.one_of(
            st.lists(st.sampled_from(["online", "in_person", "x\\y", "é"]), max_size=3),
            st.lists(
                st.fixed_dictionaries(
                    {"outcome": text, "measurement_types": st.lists(text, max_size=2)}
                ),
                max_size=2,
            ),
        ),
    }
    if kind in ("CharField", "TextField"):
        return st.one_of(st.none(), text)
    return st.one_of(st.none(), values.get(kind, st.integers(min_value=-(2**40), max_value=2**40)))


@pytest.mark.parametrize(
    "fields",
    [services._STAGE_FIELDS, services._SUPPORT_FIELDS],
    ids=["activities", "supporters"],
)
@_FAST
@given(data=st.data())
def test_the_generated_copy_lines_write_what_the_value_by_value_copy_writes(
    fields: list[Any], data: Any
) -> None:
    """copy_rows (a generated line per row, checked as a whole) equals copy_plain (each
    value escaped on its own), NULLs, escapes, missing fields and fixed columns included."""
    fixed_names = data.draw(st.sets(st.sampled_from([f.name for f in fields]), max_size=3))
    fixed = {f.name: data.draw(_copy_value(f)) for f in fields if f.name in fixed_names}
    rows = data.draw(
        st.lists(
            st.fixed_dictionaries(
                {}, optional={f.name: _copy_value(f) for f in fields if f.name not in fixed}
            ),
            max_size=4,
        )
    )
    ids = data.draw(st.sampled_from([[], list(range(7, 7 + len(rows)))])) if rows else []
    assert copy_text.copy_rows(fields, rows, fixed, ids) == copy_text.copy_plain(
        fields, rows, fixed, ids
    )


def test_a_list_of_one_text_is_never_written_as_another_list() -> None:
    """The JSON texts a batch remembers: a list holding one text (here the repr of another
    list, as a joint provider's name may be) and that other list each keep their own."""
    fields = [f for f in services._STAGE_FIELDS if f.name in ("title", "joint_providers")]
    rows = [{"title": "t", "joint_providers": [repr(["a", "b"])]}]
    rows.append({"title": "t", "joint_providers": ["a", "b"]})
    copied = copy_text.copy_rows(fields, rows, {})
    assert copied == copy_text.copy_plain(fields, rows, {})
    assert '["a", "b"]' in copied[1]


def _records(count: int, prefix: str) -> list[tuple[int, Any]]:
    records = []
    for number in range(count):
        awkward = AWKWARD[number % len(AWKWARD)]
        raw = course_json(
            provider_activity_id=f"{prefix}-{number}",
            title=awkward,
            description=awkward,
            city="",
            activity_format="enduring",
            delivery_methods=["online"],
            state="",
            country="",
            joint_providers=[awkward],
            ama_credits=["1", "10", "0.25", "6.5"][number % 4],
        )
        raw["supporters"][1]["in_kind_description"] = awkward
        record, errors = validation.validate_activity(raw, row=number + 1, today=TODAY)
        assert record is not None, errors
        records.append((number + 1, record))
    return records


def _stored(provider: Provider, prefix: str) -> list[tuple[Any, ...]]:
    skip = {"id", "provider_activity_id", "created_by_event", "created_at", "updated_at"}
    names = [f.name for f in Activity._meta.concrete_fields if f.name not in skip]
    support = ["position", "source", "monetary_amount", "in_kind", "in_kind_types"]
    rows = []
    for activity in Activity.objects.filter(
        provider=provider, provider_activity_id__startswith=f"{prefix}-"
    ).order_by("provider_activity_id"):
        supporters = CommercialSupport.objects.filter(activity=activity).order_by("position")
        rows.append(
            (
                activity.provider_activity_id.removeprefix(prefix),
                *(getattr(activity, name) for name in names),
                list(supporters.values_list(*support, "in_kind_description")),
            )
        )
    return rows


@pytest.mark.django_db
def test_a_big_batch_stores_what_small_batches_store(provider: Provider) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    access = get_api_access(provider, create_api_key(provider=provider)[0])
    count = SMALL_BATCH + 10
    big = apply_activities(access, _records(count, "BIG"), channel="tsv")
    assert big.added == count
    for row, record in _records(count, "SMALL"):  # one record each: the VALUES path
        assert apply_activities(access, [(row, record)], channel="tsv").added == 1
    assert _stored(provider, "BIG") == _stored(provider, "SMALL")
    assert Activity.objects.get(provider_activity_id="BIG-0").title == AWKWARD[0]
    assert Activity.objects.get(provider_activity_id="BIG-4").title == "\\N"


@pytest.mark.django_db
def test_a_new_activity_added_meanwhile_is_updated_not_refused(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big batch's new activities are COPYed straight into the table; one that another
    write added after the batch looked (here: a lookup that misses it) is upserted."""
    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    access = get_api_access(provider, create_api_key(provider=provider)[0])
    records = _records(SMALL_BATCH + 10, "RACE")
    meanwhile = _records(1, "RACE")[0]
    meanwhile[1].values["title"] = "Written by someone else meanwhile"
    assert apply_activities(access, [meanwhile], channel="web").added == 1
    monkeypatch.setattr(services, "_stored", lambda access, records: {})
    result = apply_activities(access, records, channel="tsv")
    assert (result.added, result.updated, result.errors) == (len(records) - 1, 1, [])
    assert Activity.objects.filter(provider=provider).count() == len(records)
    assert Activity.objects.get(provider_activity_id="RACE-0").title == AWKWARD[0]
    assert CommercialSupport.objects.filter(provider=provider).count() == 2 * len(records)


@pytest.mark.django_db
def test_keys_the_split_text_cannot_carry_are_looked_up_as_an_array(provider: Provider) -> None:
    """activities_by_key sends a batch's keys as one text split by the server, unless a key
    holds the separator or is empty: those are found too."""
    if connection.vendor != "postgresql":
        pytest.skip("the look-up by key is PostgreSQL's")
    access = get_api_access(provider, create_api_key(provider=provider)[0])
    day = datetime.date(2026, 3, 1)
    for key in ("PLAIN-1", "UNIT\x1fSEPARATED", ""):
        Activity.objects.create(
            provider=provider,
            provider_activity_id=key,
            title="t",
            start_date=day,
            end_date=day,
            reporting_year=2026,
        )
    for keys in (["PLAIN-1", "NONE"], ["UNIT\x1fSEPARATED", "PLAIN-1"], ["", "PLAIN-1"]):
        found = services.activities_by_key(access, keys, "provider_activity_id")
        assert sorted(key for (key,) in found) == sorted(set(keys) - {"NONE"})
