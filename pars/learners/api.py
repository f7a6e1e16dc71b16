"""Learner completions, registrations, recipients, matches and webhooks in the web service."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["learner completions"])
