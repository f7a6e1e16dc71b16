"""Webhooks telling integrators of completion status changes (placeholder)."""

from __future__ import annotations

from collections.abc import Sequence

from pars.providers.models import Provider


def notify_status_changes(provider: Provider, completion_ids: Sequence[int]) -> None:
    """Queue one notification per active endpoint of the provider."""
