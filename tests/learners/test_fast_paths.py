"""The learner file's fast paths read, judge and write exactly what the general paths do.

Big learner files go through shortcuts: each field's reader built once (a plain text
cell, a known code, date or number taken without the general dispatch), each
recipient's limits judging a value once, header rows read by one precompiled getter,
and the COPY text of a record written by one function generated from the clean
record's types. Each is checked here against the path it stands in for, over every
recipient's fields and values hypothesis draws (blanks, None, tabs, backslashes, line
breaks, control and non-ASCII characters), so a file never gets another answer than the
form or the JSON API would.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest
from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pars.accounts.access import get_provider_access
from pars.intake.fields import FieldSpec, Kind
from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME, SEED_RECIPIENTS
from pars.learners.models import LearnerCompletion, Recipient
from pars.learners.parsers import read_learner_tsv
from pars.learners.services import apply_completions, insert, submit_completion
from pars.learners.validation import (
    COMPLETION_VALUE_FIELDS,
    CleanCompletion,
    RecipientRules,
    fast_rows,
    load_recipients,
    recipient_specs,
    record_fields,
    rules_from_recipient,
    validate_completion,
)
from pars.learners.validation import readers as readers_module
from pars.learners.validation.readers import _Errors, field_reader, limit_checkers
from pars.testing import learner_row, make_activity, register

TODAY = datetime.date(2026, 11, 27)
_FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _seeded_rules() -> list[RecipientRules]:
    """Every seeded recipient's rules, without a database."""
    rules = []
    for row in SEED_RECIPIENTS:
        values = dict(row)
        for name in ("first_completion_date", "earliest_activity_start"):
            if isinstance(values.get(name), str):
                values[name] = datetime.date.fromisoformat(values[name])
        rules.append(rules_from_recipient(Recipient(**values)))
    return rules


RULES = _seeded_rules()
RECIPIENTS = {rules.code: rules for rules in RULES}
# The fields as the dictionary states them and as each recipient reads them today.
SPECS: list[FieldSpec] = [
    *COMPLETION_FIELDS_BY_NAME.values(),
    *(spec for rules in RULES for spec in recipient_specs(rules, TODAY).values()),
]

# Text as files hold it: codes, names, IDs, dates and numbers, with what may hide in them.
_ODD = ["\t", "\n", "\r", "\\", "\x00", "\x07", "\x1f", "\xa0", "\u2028", "é", "ß", "Ω", "😀", ";"]
_PIECES = st.sampled_from(
    [
        *_ODD,
        " ",
        "10",
        "2.5",
        "0.25",
        "1,000",
        "-1",
        "1e3",
        "NaN",
        "03/02/2026",
        "2026-03-02",
        "2026-02-30",
        "12-10",
        "ABIM",
        "nc",
        "Maine",
        "Medical Knowledge",
        "Physician",
        "yes",
        "No",
        "123456",
        "NC-12",
        "x" * 41,
    ]
)
TEXTS = st.one_of(
    st.lists(_PIECES, max_size=4).map("".join),
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from([*_ODD, "a", "1", " "]), max_size=6),
)
VALUES = st.one_of(
    TEXTS,
    st.none(),
    st.booleans(),
    st.integers(-5, 2_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.dates(),
    st.lists(TEXTS, max_size=3),
)


def _reading(read: Any, value: Any) -> tuple[Any, str, list[Any]]:
    errors = _Errors(7)
    clean = read(value, errors)
    return clean, type(clean).__name__, errors.errors


@_FAST
@given(spec=st.sampled_from(SPECS), value=VALUES)
@example(spec=COMPLETION_FIELDS_BY_NAME["first_name"], value="Ada\tLovelace")
@example(spec=COMPLETION_FIELDS_BY_NAME["first_name"], value="x" * 101)
@example(spec=COMPLETION_FIELDS_BY_NAME["cme_credits"], value=" 10 ")
@example(
    spec=COMPLETION_FIELDS_BY_NAME["completion_date"],
    value=datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC),
)
def test_a_fields_fast_reader_reads_as_the_general_path(spec: FieldSpec, value: Any) -> None:
    general = _reading(lambda value, errors: errors.read(spec, value), value)
    fast = field_reader(spec)
    assert _reading(fast, value) == general
    assert _reading(fast, value) == general  # again: what the reader remembered


LIMITED = [spec for spec in SPECS if spec.limits]


def _clean_values(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """The clean values a field with limits may hold: a date or None, or text."""
    if spec.kind is Kind.DATE:
        return st.none() | st.dates(datetime.date(2020, 1, 1), datetime.date(2027, 12, 31))
    return TEXTS | st.just("")


@_FAST
@given(
    drawn=st.sampled_from(LIMITED).flatmap(
        lambda spec: st.tuples(st.just(spec), _clean_values(spec))
    ),
    npi=st.sampled_from(["", "1234567893"]),
    earlier=st.booleans(),
)
def test_a_fields_limits_judge_as_the_general_path(
    drawn: tuple[FieldSpec, Any], npi: str, earlier: bool
) -> None:
    spec, value = drawn
    record = {"npi": npi, spec.name: value}
    checker = readers_module._limit_checker(spec)
    judged = []
    for check in (
        lambda value, record, errors: errors.check_limits(spec, value, record),
        checker,
        checker,  # again: the remembered verdict
    ):
        errors = _Errors(3)
        if earlier:  # a field already refused is not judged again
            errors.add(spec.name, f"learner.{spec.name}.invalid", "Unreadable.")
        check(value, record, errors)
        judged.append(errors.errors)
    assert judged[1] == judged[0]
    assert judged[2] == judged[0]


def test_each_field_with_limits_has_its_checker() -> None:
    for rules in RULES:
        specs = recipient_specs(rules, TODAY)
        assert set(limit_checkers(specs)) == {name for name, spec in specs.items() if spec.limits}


ROW_FIELDS = [*COMPLETION_FIELDS_BY_NAME, "action", "birth_month", "birth_day"]
RAW_ROWS = st.fixed_dictionaries(
    {
        "recipient": st.sampled_from([*RECIPIENTS, "abim", " NC ", "XX", ""]),
        "provider_activity_id": st.sampled_from(["CME-1", " CME-1 ", "", "A\tB"]),
    },
    optional={
        name: VALUES for name in ROW_FIELDS if name not in ("recipient", "provider_activity_id")
    },
)


def _general_checker(spec: FieldSpec) -> Any:
    return lambda value, record, errors: errors.check_limits(spec, value, record)


def _validated(rows: list[dict[str, Any]]) -> list[Any]:
    return [
        validate_completion(row, row=number, recipients=RECIPIENTS, today=TODAY)
        for number, row in enumerate(rows, start=2)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(RAW_ROWS, min_size=1, max_size=4), good=st.booleans())
def test_the_validator_gives_the_general_paths_records_and_errors(
    rows: list[dict[str, Any]], good: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if good:  # valid rows too, not only refusals: a learner row with a few odd cells
        base = {"provider_activity_id": "CME-1", **learner_row_values()}
        rows = [{**base, **{k: v for k, v in row.items() if k != "recipient"}} for row in rows]
    fast = _validated(rows)
    with monkeypatch.context() as patched:
        patched.setattr(fast_rows, "fast_completion", lambda raw, recipients, today: None)
        patched.setattr(readers_module, "_FAST_BUILDERS", {})
        patched.setattr(readers_module, "_FIELD_READERS", {})
        patched.setattr(readers_module, "_MAPPING_READERS", {})
        patched.setattr(readers_module, "_limit_checker", _general_checker)
        patched.setattr(readers_module, "_MAPPING_CHECKERS", {})
        general = _validated(rows)
    assert fast == general


# ---------------------------------------------------------------------------
# Rows as files hold them (every cell text), vouched for by what they repeat


def _cells(name: str) -> list[str]:
    """A choice field's codes and labels, in several cases, and a wrong one."""
    choices = COMPLETION_FIELDS_BY_NAME[name].choices
    return [*list(choices)[:4], *(label.upper() for label in list(choices.values())[:3]), "x"]


# Per field: cells a file may hold, most of them valid for some recipient.
FILE_CELLS: dict[str, list[str]] = {
    "action": ["", "add", " ADD ", "delete", "remove"],
    "provider_activity_id": ["CME-1", " CME-1 ", "", "x" * 101],
    "accme_activity_id": ["", "123456789", "12345"],
    "first_name": ["Ada", " Zoë ", "", "x" * 101, "A\tB", "O'Brien", "\xa0Ada", "Al\x07"],
    "last_name": ["Lovelace", "Hopper", "", "de la Cruz"],
    "birth_date": ["12-10", "2/29", "13-01", "", "1990-12-10", "12/10/1990", "x"],
    "birth_month": ["", "12", "1"],
    "birth_day": ["", "10", "32"],
    "learner_id": ["123456", "12345678", "123 456", "NC-12", "ab.c", "", "1234567", "12-34"],
    "npi": ["", "1234567893", "1234567890", "123"],
    "license_state": ["", "NC", "nc", "North Carolina", "TN", "ME", "XX"],
    "completion_date": [
        "03/02/2026",
        "2026-03-02",
        "2019-01-01",
        "2020-06-01",
        "2027-01-01",
        "11/27/2026",
        "",
        "02/30/2026",
    ],
    "cme_credits": ["", "10", "0.25", "0.3", "-1", "1,000", "abc"],
    "moc_points": ["", "10", "2.5", "0.1"],
    "moc_credit_types": [
        "",
        "Medical Knowledge",
        "Patient Safety",
        "Lifelong Learning; Patient Safety",
        "lifelong learning",
        "Self-Assessment Module (SAM)",
        "Accredited CME",
        "Bogus",
    ],
    "surgical_procedures": ["", "Yes", "n", "maybe"],
    **{
        name: ["", *_cells(name)]
        for name in ("profession", "practice_state", "dea_registration", "practice_area")
    },
    "time_in_practice": ["", *_cells("time_in_practice")],
}


@st.composite
def file_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A valid row of a file for some recipient, with a few of its cells changed to what
    files hold (valid or not), or left out."""
    row: dict[str, Any] = _valid_file_row(draw(st.sampled_from(sorted(RECIPIENTS))))
    for name in draw(st.lists(st.sampled_from([*FILE_CELLS, "recipient"]), max_size=3)):
        cells = FILE_CELLS.get(name, [*RECIPIENTS, "abim", " NC ", "XX", ""])
        row[name] = draw(st.sampled_from(cells) | TEXTS)
    for name in draw(st.lists(st.sampled_from(sorted(row)), max_size=2)):
        row.pop(name, None)
    return row


FILE_ROWS = file_rows()


def _general(
    monkeypatch: pytest.MonkeyPatch, row: dict[str, Any], today: datetime.date = TODAY
) -> tuple[Any, list[Any]]:
    with monkeypatch.context() as patched:
        patched.setattr(fast_rows, "fast_completion", lambda raw, recipients, today: None)
        return validate_completion(row, row=2, recipients=RECIPIENTS, today=today)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(FILE_ROWS, min_size=1, max_size=6),
    today=st.sampled_from([TODAY, TODAY.replace(year=2021)]),
)
def test_a_vouched_row_is_the_general_paths_record(
    rows: list[dict[str, Any]], today: datetime.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a file's row holds, the fast path gives the general path's record or
    leaves the row to it; and validate_completion (either way) answers as the general
    path alone does, also the second time (what the fast path remembered)."""
    for row in rows:
        general = _general(monkeypatch, row, today)
        for _ in range(2):
            vouched = fast_rows.fast_completion(row, RECIPIENTS, today)
            if vouched is not None:
                assert (vouched, []) == general
            assert validate_completion(row, row=2, recipients=RECIPIENTS, today=today) == general


def _valid_file_row(code: str) -> dict[str, str]:
    """A valid row of a file for the recipient, as the benchmark's files hold them."""
    row = {
        "provider_activity_id": "CME-1",
        "recipient": code,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "12-10",
        "completion_date": "03/02/2026",
        "cme_credits": "10",
    }
    rules = RECIPIENTS[code]
    if rules.is_state_board:
        return {**row, "license_state": rules.state, "learner_id": f"{code}-12"}
    if rules.is_moc:
        digits = "".join(ch for ch in rules.identifier_pattern if ch.isdigit())
        length = int(digits[0]) if digits else 6
        return {
            **row,
            "learner_id": "1" * length,
            "moc_points": "10",
            "moc_credit_types": rules.credit_types[0],
        }
    return {
        **row,
        "learner_id": "L-1",
        **{name: FILE_CELLS[name][1] for name in ("profession", "practice_state")},
        "dea_registration": "individual",
    }


@pytest.mark.parametrize("code", sorted(RECIPIENTS))
def test_the_rows_of_big_files_take_the_fast_path(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid row of every recipient is vouched for (the fast path is not one that
    never applies), and is the record the general path makes of it."""
    row = _valid_file_row(code)
    general = _general(monkeypatch, row)
    assert general[0] is not None, general[1]
    assert (fast_rows.fast_completion(row, RECIPIENTS, TODAY), []) == general
    # The lists of a record are its own: a change to one changes no other record.
    first = fast_rows.fast_completion(row, RECIPIENTS, TODAY)
    second = fast_rows.fast_completion(row, RECIPIENTS, TODAY)
    assert first is not None
    assert second is not None
    first.moc_credit_types.append("Changed")
    assert second.moc_credit_types == general[0].moc_credit_types


def test_equal_values_of_other_types_are_read_each_by_its_own_type() -> None:
    """JSON's true and 1.0 are equal in Python, but 1.0 is no Yes/No answer: a record
    after one with true is refused as it is on its own (the record fields' memo once
    answered it with the first one's verdict)."""
    rems = {
        "provider_activity_id": "CME-1",
        "recipient": "REMS",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "12-10",
        "learner_id": "L-1",
        "completion_date": "2026-03-02",
        "profession": "Physician",
        "practice_state": "NC",
        "dea_registration": "individual",
    }
    answered = []  # not a dict: True and 1.0 would be one key there too
    for value in (True, 1.0):
        record_fields._record_memo.clear()
        answered.append(
            validate_completion(
                {**rems, "surgical_procedures": value}, recipients=RECIPIENTS, today=TODAY
            )
        )
    record_fields._record_memo.clear()
    validate_completion({**rems, "surgical_procedures": True}, recipients=RECIPIENTS, today=TODAY)
    after_true = validate_completion(
        {**rems, "surgical_procedures": 1.0}, recipients=RECIPIENTS, today=TODAY
    )
    assert answered[0][0] is not None, answered[0][1]
    assert answered[1][0] is None
    assert [error.rule for error in answered[1][1]] == ["learner.surgical_procedures.invalid"]
    assert after_true == answered[1]


def learner_row_values() -> dict[str, Any]:
    return {
        "recipient": "ABIM",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "12-10",
        "learner_id": "123456",
        "completion_date": "2026-03-02",
        "cme_credits": "10",
        "moc_points": "10",
        "moc_credit_types": "Medical Knowledge",
    }


# ---------------------------------------------------------------------------
# COPY text


def _record_values() -> st.SearchStrategy[dict[str, Any]]:
    """Any value of each clean completion attribute's type: plain text (the fast line),
    with one text drawn with what COPY escapes or what is not printable."""
    plain = st.sampled_from(["", "Ada", "NC", "id:123456", "Zoë", "O'Brien", "N"])
    decimals = st.decimals(min_value=0, max_value=1000, places=2)
    by_type: dict[Any, st.SearchStrategy[Any]] = {
        str: plain,
        int: st.integers(1, 31),
        datetime.date: st.dates(),
        Decimal | None: st.none() | decimals,
        bool | None: st.none() | st.booleans(),
        list[str]: st.lists(plain | TEXTS, max_size=3),
    }
    fields = {item.name: item.type for item in dataclasses.fields(cast(Any, CleanCompletion))}
    texts = [name for name, kind in fields.items() if kind is str]
    odd = TEXTS | st.sampled_from(["O\\Brien", "a\tb", "a\nb\r", "\\N", "\\"])
    return st.tuples(
        st.fixed_dictionaries({name: by_type[kind] for name, kind in fields.items()}),
        st.sampled_from(texts),
        odd,
    ).map(lambda drawn: {**drawn[0], drawn[1]: drawn[2]})


@_FAST
@given(values=_record_values())
def test_the_fast_copy_line_equals_the_general_encoders(values: dict[str, Any]) -> None:
    record = CleanCompletion(**values)
    general = insert._copy_encoders()
    expected = "\t".join(
        encode(getattr(record, name))
        for encode, name in zip(general, COMPLETION_VALUE_FIELDS, strict=True)
    )
    assert insert.copy_row_encoder()(record) == expected


@pytest.mark.parametrize(
    ("first_name", "written"), [("a\tb", "a\\tb"), ("c\\d", "c\\\\d"), ("e\nf", "e\\nf")]
)
def test_an_escaped_copy_line_still_has_one_cell_per_column(first_name: str, written: str) -> None:
    record = CleanCompletion(**{**_plain_record(), "first_name": first_name})
    line = insert.copy_row_encoder()(record)
    assert line.count("\t") == len(COMPLETION_VALUE_FIELDS) - 1
    assert line.split("\t")[COMPLETION_VALUE_FIELDS.index("first_name")] == written


def _plain_record() -> dict[str, Any]:
    record, errors = validate_completion(
        {"provider_activity_id": "CME-1", **learner_row_values()},
        recipients=RECIPIENTS,
        today=TODAY,
    )
    assert record is not None, errors
    return {item.name: getattr(record, item.name) for item in dataclasses.fields(cast(Any, record))}


TRICKY_NAMES = [
    "Tab\there",
    "Line\nbreak",
    "Back\\slash",
    "Zoë\xa0Ørsted",
    "Carriage\rreturn",
    "\\N",
]


def test_copy_and_insert_store_the_same_tricky_text(
    provider: Any, editor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    access = get_provider_access(editor, provider.provider_id)
    recipients = load_recipients()
    monkeypatch.setattr(insert, "COPY_THRESHOLD", 1)
    stored = {}
    for use_copy in (False, True):
        activity = make_activity(provider)
        register(activity, "ABIM")
        records = []
        for number, name in enumerate(TRICKY_NAMES, start=2):
            row = learner_row(activity, first_name=name, learner_id=f"{number:06d}")
            record, errors = validate_completion(row, recipients=recipients, today=TODAY)
            assert record is not None, errors
            records.append((number, record))
        result = apply_completions(
            access, records, channel="tsv", recipients=recipients, use_copy=use_copy
        )
        assert result.errors == []
        stored[use_copy] = list(
            LearnerCompletion.objects.filter(activity=activity)
            .order_by("learner_key")
            .values_list("first_name", flat=True)
        )
    assert stored[True] == stored[False]
    assert sorted(stored[True]) == sorted(name.strip() for name in TRICKY_NAMES)


# ---------------------------------------------------------------------------
# Rows read by the precompiled getter, and short rows read cell by cell


def test_full_and_short_rows_read_the_same_cells(db: None) -> None:
    text = (
        "Provider Activity ID\tRecipient\tFirst Name\tLast Name\tBirth Month and Day\t"
        "Completion Date\tNotes\n"
        "CME-1\tABIM\tAda\tLovelace\t12-10\t03/02/2026\tignored\n"
        "CME-1\tABIM\tAlan\n"
        "CME-1\tABIM\tGrace\tHopper\t12-09\t03/02/2026\n"
    )
    rows = list(read_learner_tsv(io.BytesIO(text.encode())))
    assert [row.data for row in rows] == [
        {
            "provider_activity_id": "CME-1",
            "recipient": "ABIM",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "birth_date": "12-10",
            "completion_date": "03/02/2026",
        },
        {"provider_activity_id": "CME-1", "recipient": "ABIM", "first_name": "Alan"},
        {
            "provider_activity_id": "CME-1",
            "recipient": "ABIM",
            "first_name": "Grace",
            "last_name": "Hopper",
            "birth_date": "12-09",
            "completion_date": "03/02/2026",
        },
    ]


# ---------------------------------------------------------------------------
# Files of several batches (each batch's new records COPYed on PostgreSQL)

HEADER = ["Provider Activity ID", "Recipient", "First Name", "Last Name", "Birth Month and Day"]
HEADER += ["Learner ID", "Completion Date", "CME Credits", "MOC Points", "MOC Credit Types"]


def _lines(activity_id: str, numbers: range) -> list[str]:
    fixed = ["03/02/2026", "10", "10", "Medical Knowledge"]
    return [
        "\t".join([activity_id, "ABIM", "Ada", f"Learner{n:06d}", "12-10", f"{n:06d}", *fixed])
        for n in numbers
    ]


def _process(provider: Any, editor: Any, lines: list[str], content: bytes = b"") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from pars.intake.process import process_upload
    from pars.intake.store import store_upload

    access = get_provider_access(editor, provider.provider_id)
    data = "".join(line + "\r\n" for line in ["\t".join(HEADER), *lines]).encode() + content
    upload = store_upload(
        access, SimpleUploadedFile("learners.txt", data), enqueue=False, kind="learners"
    )
    process_upload(upload.pk)
    upload.refresh_from_db()
    return upload


BIG = 2 * 2_000 + 700  # three batches of the file job (BATCH_SIZE)


def test_a_file_of_several_batches_writes_every_record(
    provider: Any, editor: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    # An activity with a stored record: its rows, in the last batch, are looked up in the
    # table, which holds the earlier batches' rows by then.
    known = make_activity(provider, provider_activity_id="GR-2")
    register(known, "ABIM")
    access = get_provider_access(editor, provider.provider_id)
    submit_completion(access, learner_row(known, learner_id="000001"), channel="api")
    lines = [*_lines("GR-1", range(1, BIG + 1)), *_lines("GR-2", range(1, 11))]
    upload = _process(provider, editor, lines)
    assert (upload.status, upload.added, upload.updated) == ("succeeded", BIG + 9, 1)
    assert LearnerCompletion.objects.filter(activity=activity).count() == BIG
    assert LearnerCompletion.objects.filter(activity=known).count() == 10
    # Again: every record is found (a later batch's lookups see the earlier batches' rows).
    again = _process(provider, editor, _lines("GR-1", range(BIG, 0, -1)))
    assert (again.added, again.unchanged) == (0, BIG)


def test_a_file_refused_after_a_written_batch_changes_nothing(
    provider: Any, editor: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    upload = _process(provider, editor, _lines("GR-1", range(1, BIG + 1)), b"bad\x00row\r\n")
    assert upload.status == "rejected"
    assert "NUL" in upload.message
    assert not LearnerCompletion.objects.filter(activity=activity).exists()
    # The connection is usable and the next file goes in.
    upload = _process(provider, editor, _lines("GR-1", range(1, 600)))
    assert (upload.status, upload.added) == ("succeeded", 599)


def test_each_vouched_record_is_made_whole_with_lists_of_its_own() -> None:
    """The generated maker of vouched records is used, and gives each record its own
    lists (the remembered verdict's are never shared)."""
    assert fast_rows._record_maker() is not None
    recipients = {rules.code: rules for rules in _seeded_rules()}
    raw = learner_row(cast(Any, SimpleNamespace(provider_activity_id="FP-1")))
    first = fast_rows.fast_completion(raw, recipients, TODAY)
    second = fast_rows.fast_completion(raw, recipients, TODAY)
    assert first is not None
    assert second is not None
    assert first == second
    assert first.moc_credit_types == ["Medical Knowledge"]
    assert first.moc_credit_types is not second.moc_credit_types
    record, errors = validate_completion(raw, recipients=recipients, today=TODAY)
    assert (record, errors) == (first, [])
