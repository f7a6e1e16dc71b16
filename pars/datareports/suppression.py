"""Small-cell suppression for a two-way table with its margins (pure Python, no Django).

A count table is published with its row totals, column totals and grand total. Every
published number must be either 0 or at least ``THRESHOLD`` (11), and no withheld
number may be recoverable from what is published.

The algorithm
-------------
Think of the table *with* its margins as an ``(R + 1) x (C + 1)`` grid: row ``R`` holds
the column totals, column ``C`` the row totals, the corner the grand total. Every line
of that grid obeys one equation (the cells of a row sum to its total, and so on). Draw a
bipartite graph with one node per grid row and one per grid column; each grid cell is
the edge between its row node and its column node.

1. **Primary suppression**: every cell or total whose value is between 1 and 10 is
   withheld.
2. **Complementary suppression**: for each withheld cell that is not yet on a cycle of
   withheld cells, find the cheapest path between its row node and its column node that
   does not use the cell itself (Dijkstra; cost: a cell already withheld costs nothing,
   a published non-zero cell costs one new suppression plus a tie-break on its size so
   that small cells go first; zero cells are never used) and withhold every cell on it.
   The cell and the path form a cycle. Adding cells never breaks a cycle, so one pass
   over the withheld cells, repeated until nothing changes, reaches a fixed point.

Such a path always exists for a positive cell: row ``i`` reaches the totals column
through its (positive) row total, the totals column reaches the totals row through the
(positive) grand total, and the totals row reaches column ``j`` through its (positive)
column total; the analogous three-step detours exist for a total.

The guarantee
-------------
* No published number lies in 1..10 (step 1; complements are only ever withheld).
* Every withheld number is positive and lies on a cycle of withheld, positive numbers.
  Adding ``+1`` and ``-1`` alternately around the cycle (with the sign flipped for the
  totals) keeps every line's equation and every value non-negative, so the published
  data are consistent with at least three values of each withheld cell (``v - 1``,
  ``v``, ``v + 1``): none can be derived by subtraction, not even together with the
  knowledge that counts are non-negative integers. In particular every row and every
  column that holds a withheld number holds at least two.

Limits: each table is protected on its own; suppression patterns are not coordinated
across tables that share a margin (the research data set's codebook says so, and its
tables avoid sharing margins where they can). The guarantee concerns linear
recovery: a withheld count may still be narrowed to an interval.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

THRESHOLD = 11

Cell = tuple[int, int]  # (row, column) in the grid with margins


@dataclass(frozen=True)
class Published:
    """A table as it may be published: ``None`` marks a withheld number."""

    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None

    def values(self) -> list[int | None]:
        """Every published position, totals included (for checks)."""
        flat = [value for row in self.cells for value in row]
        return [*flat, *self.row_totals, *self.column_totals, self.total]


def grid_with_margins(cells: Sequence[Sequence[int]]) -> list[list[int]]:
    """The table as an (R + 1) x (C + 1) grid: row totals last in each row, then the
    column totals and the grand total as the last row."""
    rows = [list(row) for row in cells]
    width = len(rows[0]) if rows else 0
    if any(len(row) != width for row in rows):
        raise ValueError("every row of the table needs the same number of cells")
    if any(value < 0 for row in rows for value in row):
        raise ValueError("counts cannot be negative")
    grid = [[*row, sum(row)] for row in rows]
    grid.append([sum(row[j] for row in grid) for j in range(width + 1)])
    return grid


def _on_cycle(grid: list[list[int]], withheld: set[Cell], cell: Cell) -> bool:
    """Whether `cell` lies on a cycle of withheld cells (a path between its row and its
    column through other withheld cells)."""
    start, goal = ("r", cell[0]), ("c", cell[1])
    seen = {start}
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for other in _neighbours(grid, node):
            edge = _edge(node, other)
            if edge == cell or edge not in withheld or other in seen:
                continue
            if other == goal:
                return True
            seen.add(other)
            frontier.append(other)
    return False


def _neighbours(grid: list[list[int]], node: tuple[str, int]) -> list[tuple[str, int]]:
    side, _index = node
    if side == "r":
        return [("c", j) for j in range(len(grid[0]))]
    return [("r", i) for i in range(len(grid))]


def _edge(a: tuple[str, int], b: tuple[str, int]) -> Cell:
    return (a[1], b[1]) if a[0] == "r" else (b[1], a[1])


def _cheapest_path(grid: list[list[int]], withheld: set[Cell], cell: Cell) -> list[Cell]:
    """The cells of the cheapest path from `cell`'s row to its column, not using
    `cell` and no zero cell; withheld cells are free."""
    start, goal = ("r", cell[0]), ("c", cell[1])
    best: dict[tuple[str, int], tuple[int, int]] = {start: (0, 0)}
    previous: dict[tuple[str, int], tuple[str, int]] = {}
    queue: list[tuple[tuple[int, int], tuple[str, int]]] = [((0, 0), start)]
    while queue:
        cost, node = heapq.heappop(queue)
        if node == goal:
            break
        if cost > best.get(node, cost):
            continue
        for other in _neighbours(grid, node):
            edge = _edge(node, other)
            value = grid[edge[0]][edge[1]]
            if edge == cell or value == 0:
                continue
            step = (0, 0) if edge in withheld else (1, value)
            new = (cost[0] + step[0], cost[1] + step[1])
            if other not in best or new < best[other]:
                best[other] = new
                previous[other] = node
                heapq.heappush(queue, (new, other))
    if goal not in previous:  # cannot happen for a positive cell (see the module notes)
        raise AssertionError(f"no complementary path for {cell}")
    path: list[Cell] = []
    node = goal
    while node != start:
        before = previous[node]
        path.append(_edge(before, node))
        node = before
    return path


def suppressed_cells(grid: list[list[int]], threshold: int = THRESHOLD) -> set[Cell]:
    """The grid positions to withhold (primary and complementary)."""
    withheld = {
        (i, j) for i, row in enumerate(grid) for j, value in enumerate(row) if 0 < value < threshold
    }
    changed = True
    while changed:
        changed = False
        for cell in sorted(withheld):
            if not _on_cycle(grid, withheld, cell):
                withheld.update(_cheapest_path(grid, withheld, cell))
                changed = True
    return withheld


def suppress(cells: Sequence[Sequence[int]], threshold: int = THRESHOLD) -> Published:
    """The table and its margins with small counts and their complements withheld."""
    grid = grid_with_margins(cells)
    withheld = suppressed_cells(grid, threshold)
    shown: list[list[int | None]] = [
        [None if (i, j) in withheld else value for j, value in enumerate(row)]
        for i, row in enumerate(grid)
    ]
    return Published(
        cells=[row[:-1] for row in shown[:-1]],
        row_totals=[row[-1] for row in shown[:-1]],
        column_totals=shown[-1][:-1],
        total=shown[-1][-1],
    )
