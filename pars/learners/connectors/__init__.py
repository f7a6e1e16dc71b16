"""Connectors: how completions travel to each recipient (see ``base``)."""

from pars.learners.connectors.base import (
    ACCEPTED,
    IDENTITY_MISMATCH,
    MATCH,
    MISMATCH,
    NOT_FOUND,
    RECORD_NOT_FOUND,
    REJECTED,
    Connector,
    DeliveryError,
    ItemResult,
    MatchingUnavailable,
    MatchOutcome,
    PermanentDeliveryError,
    TransientDeliveryError,
    connector_for,
)

__all__ = [
    "ACCEPTED",
    "IDENTITY_MISMATCH",
    "MATCH",
    "MISMATCH",
    "NOT_FOUND",
    "RECORD_NOT_FOUND",
    "REJECTED",
    "Connector",
    "DeliveryError",
    "ItemResult",
    "MatchOutcome",
    "MatchingUnavailable",
    "PermanentDeliveryError",
    "TransientDeliveryError",
    "connector_for",
]
