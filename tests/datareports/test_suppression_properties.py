"""The research data set's small-cell suppression, checked on random tables.

Two properties, for every table hypothesis draws (many small counts, zeros, single rows
and columns): no published number (cell or total) lies between 1 and 10, and no withheld
number is determined by the published ones. The second is checked independently of the
algorithm: for each withheld cell we search the withheld positions for another table, of
non-negative integers, that agrees with every published number and every row and column
total but differs in that cell; finding one for both ``+1`` and ``-1`` proves the cell
cannot be recovered by subtraction.
"""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pars.datareports.suppression import THRESHOLD, Published, grid_with_margins, suppress

Grid = list[list[int]]

counts = st.one_of(
    st.integers(0, 12),  # mostly around the threshold
    st.just(0),
    st.integers(0, 200),
)
tables = st.integers(1, 6).flatmap(
    lambda rows: st.integers(1, 6).flatmap(
        lambda cols: st.lists(
            st.lists(counts, min_size=cols, max_size=cols), min_size=rows, max_size=rows
        )
    )
)


def _published_grid(published: Published) -> list[list[int | None]]:
    rows = [
        [*cells, total] for cells, total in zip(published.cells, published.row_totals, strict=True)
    ]
    return [*rows, [*published.column_totals, published.total]]


def _consistent(grid: Grid) -> bool:
    """Every line of the grid sums to its total, and nothing is negative."""
    width = len(grid[0]) - 1
    rows_ok = all(sum(row[:-1]) == row[-1] for row in grid)
    cols_ok = all(sum(row[j] for row in grid[:-1]) == grid[-1][j] for j in range(width + 1))
    return rows_ok and cols_ok and all(value >= 0 for row in grid for value in row)


def _alternative(
    grid: Grid, withheld: set[tuple[int, int]], cell: tuple[int, int], step: int
) -> Grid | None:
    """Another table agreeing with everything published, with `cell` changed by `step`:
    an alternating cycle through withheld cells, found by breadth-first search."""
    last_row, last_col = len(grid) - 1, len(grid[0]) - 1

    def sign(i: int, j: int) -> int:  # totals enter their line's equation negated
        return -1 if (i == last_row) != (j == last_col) else 1

    def usable(i: int, j: int, change: int) -> bool:
        return grid[i][j] + sign(i, j) * change >= 0

    a, b = cell
    if not usable(a, b, step):
        return None
    # Walk from the cell's column back to its row: column-to-row edges get -step,
    # row-to-column edges +step (in the signed equations).
    start, goal = ("c", b), ("r", a)
    previous: dict[tuple[str, int], tuple[str, int]] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        side, index = queue.popleft()
        if (side, index) == goal:
            break
        others = range(last_row + 1) if side == "c" else range(last_col + 1)
        for other in others:
            i, j = (other, index) if side == "c" else (index, other)
            change = -step if side == "c" else step
            node = ("r" if side == "c" else "c", other)
            if (i, j) == cell or (i, j) not in withheld or node in seen:
                continue
            if not usable(i, j, change):
                continue
            seen.add(node)
            previous[node] = (side, index)
            queue.append(node)
    if goal not in previous:
        return None
    alt = [row[:] for row in grid]
    alt[a][b] += sign(a, b) * step
    node = goal
    while node != start:
        before = previous[node]
        i, j = (node[1], before[1]) if before[0] == "c" else (before[1], node[1])
        change = -step if before[0] == "c" else step
        alt[i][j] += sign(i, j) * change
        node = before
    return alt


def _check(cells: Grid) -> None:
    published = suppress(cells)
    grid = grid_with_margins(cells)
    shown = _published_grid(published)
    # What is published is the truth, and never a count between 1 and 10.
    for row, shown_row in zip(grid, shown, strict=True):
        for value, shown_value in zip(row, shown_row, strict=True):
            assert shown_value is None or shown_value == value
    assert not [v for v in published.values() if v is not None and 0 < v < THRESHOLD]
    # Every small count is withheld.
    withheld = {
        (i, j) for i, row in enumerate(shown) for j, value in enumerate(row) if value is None
    }
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if 0 < value < THRESHOLD:
                assert (i, j) in withheld
    # No withheld count is determined by the published numbers and the totals.
    for cell in withheld:
        for step in (1, -1):
            alt = _alternative(grid, withheld, cell, step)
            assert alt is not None, (cells, cell, step)
            assert _consistent(alt)
            assert alt[cell[0]][cell[1]] != grid[cell[0]][cell[1]]
            for i, shown_line in enumerate(shown):
                for j, shown_value in enumerate(shown_line):
                    assert shown_value is None or alt[i][j] == shown_value
    # Lines with a withheld number hold at least two (the subtraction rule).
    for shown_line in shown:
        assert shown_line.count(None) != 1
    for j in range(len(shown[0])):
        assert [line[j] for line in shown].count(None) != 1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_no_small_count_is_published_or_recoverable(cells: Grid) -> None:
    _check(cells)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda cols: st.lists(
            st.lists(st.integers(0, 11), min_size=cols, max_size=cols), min_size=1, max_size=12
        )
    )
)
def test_tall_tables_of_mostly_small_counts(cells: Grid) -> None:
    _check(cells)


def test_a_single_small_cell_takes_a_complement_in_its_row_and_column() -> None:
    published = suppress([[5, 20], [30, 40]])
    # The cheapest cycle through the 5 is the other three cells; the totals stay.
    assert published.cells == [[None, None], [None, None]]
    assert published.row_totals == [25, 70]
    assert published.column_totals == [35, 60]
    _check([[5, 20], [30, 40]])


def test_tables_without_small_counts_are_published_whole() -> None:
    published = suppress([[0, 20], [30, 0]])
    assert published.cells == [[0, 20], [30, 0]]
    assert published.row_totals == [20, 30]
    assert published.column_totals == [30, 20]
    assert published.total == 50


def test_a_small_total_is_withheld_with_its_cells() -> None:
    published = suppress([[3, 4], [50, 60]])
    assert published.row_totals[0] is None
    assert published.cells[0] == [None, None]
    _check([[3, 4], [50, 60]])


def test_a_one_cell_table() -> None:
    published = suppress([[7]])
    assert published.values() == [None, None, None, None]
    assert suppress([[0]]).values() == [0, 0, 0, 0]


def test_an_empty_table() -> None:
    assert suppress([]).total == 0


@pytest.mark.parametrize(
    "cells",
    [[[1, 0, 0], [0, 0, 0]], [[12, 1], [0, 0]], [[11, 11], [11, 1]], [[0, 0, 2, 50, 50, 3]]],
)
def test_awkward_examples(cells: Grid) -> None:
    _check(cells)
