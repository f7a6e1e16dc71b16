"""A set of 64-bit hashes in machine integers: a big file's "seen" records in 8 bytes each.

A Python ``set`` of ``hash()`` values costs about 70 bytes per value at 500,000 values
(an int object of 32 bytes and a table slot of 16, the table kept at most 60 % full);
:class:`SeenHashes` keeps the values themselves in one ``array('q')`` open-addressing
table (linear probing, at most half full): about 16 bytes per value, and no object for
the garbage collector to look at.
"""

from __future__ import annotations

from array import array

_MIN_CAPACITY = 1024


def _capacity_for(count: int) -> int:
    """A power of two at least twice `count` (the table stays at most half full)."""
    capacity = _MIN_CAPACITY
    while capacity < 2 * count:
        capacity *= 2
    return capacity


class SeenHashes:
    """The hash values added so far (``hash()`` values: any int of 64 bits)."""

    __slots__ = ("_count", "_mask", "_table", "_zero")

    def __init__(self, expected: int = 0) -> None:
        """`expected`: about how many values will be added (the table is sized once)."""
        capacity = _capacity_for(expected)
        self._table = array("q", bytes(8 * capacity))  # 0 marks an empty slot
        self._mask = capacity - 1
        self._count = 0
        self._zero = False  # 0 itself, which marks empty slots, is kept here

    def __len__(self) -> int:
        return self._count + self._zero

    def __contains__(self, value: int) -> bool:
        if not value:
            return self._zero
        table, mask = self._table, self._mask
        at = value & mask
        while True:
            found = table[at]
            if found == value:
                return True
            if not found:
                return False
            at = (at + 1) & mask

    def add(self, value: int) -> bool:
        """Add `value`; False when it was there already."""
        if not value:
            added = not self._zero
            self._zero = True
            return added
        table, mask = self._table, self._mask
        at = value & mask
        while True:
            found = table[at]
            if found == value:
                return False
            if not found:
                break
            at = (at + 1) & mask
        table[at] = value
        self._count += 1
        if 2 * self._count > mask:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._table
        capacity = 2 * len(old)
        table = self._table = array("q", bytes(8 * capacity))
        mask = self._mask = capacity - 1
        for value in old:
            if value:
                at = value & mask
                while table[at]:
                    at = (at + 1) & mask
                table[at] = value
