"""The only writers of registrations and learner completions.

Every channel ends here after the validator (:mod:`pars.learners.validation`). The
checks that need the database live here, once for every channel: the activity
exists and is the provider's, it is registered for the recipient, the completion
falls within its dates, within its registered points and credit types, and before the
board's credit claim date.

A completion is never edited in place without a trace and never deleted: a change
makes a new *version* that is queued for delivery again, a delete becomes a
withdrawal sent to the recipient, and each step is a :class:`CompletionEvent`
(holding field names, never personal values). Re-sending the same record is a no-op.
"""

from __future__ import annotations

from .insert import COPY_THRESHOLD
from .lookups import ActivityLookup, status_counts
from .refusals import CompletionRefused, RegistrationRefused
from .registrations import delete_registration, save_registration
from .single import (
    completion_raw,
    correct_completion,
    fix_learner_identity,
    resubmit_completion,
    submit_completion,
    withdraw_completion,
)
from .writer import CompletionResult, apply_completions, refused_errors

__all__ = [
    "COPY_THRESHOLD",
    "ActivityLookup",
    "CompletionRefused",
    "CompletionResult",
    "RegistrationRefused",
    "apply_completions",
    "completion_raw",
    "correct_completion",
    "delete_registration",
    "fix_learner_identity",
    "refused_errors",
    "resubmit_completion",
    "save_registration",
    "status_counts",
    "submit_completion",
    "withdraw_completion",
]
