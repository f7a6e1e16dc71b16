"""The one validator of learner completions and activity registrations.

Every channel (web form, TSV, XLSX, XML, JSON) hands its raw record, a mapping of
dictionary field names to values, to :func:`validate_completion`; the registration
form and API hand theirs to :func:`validate_registration`. The rules that need the
database (the activity exists, is registered for the recipient, the completion falls
within its dates and registered points) are checked by the one writer,
``pars.learners.services.apply_completions``, for every channel alike.

The recipient's rules are data (:class:`RecipientRules`, read from the
``Recipient`` table). Messages about personal fields never quote the value: error
reports and logs must not carry identifiers or birth dates.

Learner files are the biggest PARS receives (hundreds of thousands of rows), so the
per-field parsing of values that repeat (dates, credits, codes) is memoised, and a row
of plain text that passes is vouched for by what it repeats (``fast_rows.py``) before
the general path reads it field by field: same records, same errors.
"""

from __future__ import annotations

# The intake's error type, re-exported: callers take it along with the validator's results.
from pars.intake.rules import FieldError

from .catalogue import RULES
from .completions import (
    COMPLETION_VALUE_FIELDS,
    CleanCompletion,
    CompletionAttributes,
    RefusedFacts,
    clean_completion_class,
    completion_attributes,
    refused_facts,
    validate_completion,
)
from .readers import month_day, npi_is_valid, parse_month_day
from .recipients import (
    PART_MARK,
    RecipientRules,
    load_recipients,
    recipient_overrides,
    recipient_specs,
    rules_from_recipient,
)
from .registrations import (
    CleanRegistration,
    registration_activity_errors,
    validate_registration,
)

__all__ = [
    "COMPLETION_VALUE_FIELDS",
    "PART_MARK",
    "RULES",
    "CleanCompletion",
    "CleanRegistration",
    "CompletionAttributes",
    "FieldError",
    "RecipientRules",
    "RefusedFacts",
    "clean_completion_class",
    "completion_attributes",
    "load_recipients",
    "month_day",
    "npi_is_valid",
    "parse_month_day",
    "recipient_overrides",
    "recipient_specs",
    "refused_facts",
    "registration_activity_errors",
    "rules_from_recipient",
    "validate_completion",
    "validate_registration",
]
