"""The learner file's duplicate check keeps its records' hashes as machine integers
(pars/lib/seen_hashes.py): it answers as a set of the same hashes does, for any hashes
(0, negative, colliding in their low bits, more than it was sized for)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pars.lib.seen_hashes import SeenHashes

HASHES = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Values that share their low bits, so they land on the same slots and probe on.
CROWDED = st.builds(
    lambda high, low: (high << 10) | low, st.integers(-(2**52), 2**52), st.integers(0, 3)
)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(HASHES, CROWDED, st.just(0)), max_size=3_000),
    expected=st.integers(0, 50),
)
def test_it_answers_as_a_set_of_the_same_hashes(values: list[int], expected: int) -> None:
    seen = SeenHashes(expected)
    reference: set[int] = set()
    for value in values:
        assert (value in seen) == (value in reference)
        assert seen.add(value) == (value not in reference)
        reference.add(value)
        assert value in seen
    assert len(seen) == len(reference)


def test_a_file_of_500000_records_costs_a_few_megabytes() -> None:
    seen = SeenHashes(500_000)
    assert seen._table.itemsize * len(seen._table) <= 8 * 2**20  # 8 MB, a set costs 33
