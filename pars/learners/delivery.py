"""Delivery of completions to their recipients (placeholder until implemented)."""

from __future__ import annotations


def schedule_delivery(codes: list[str]) -> None:
    """Queue the delivery task of each recipient code."""
