"""What the provider does next about a held or rejected record, in one sentence.

The stored ``status_reason`` quotes no identifier, name or birth date: it travels in
webhooks and may reach logs. This text is built when the provider reads the record (its
page, the web service), so it can name what did not match ("No North Carolina license
12345 found for Jane Doe") when the reader may see personal data, and says how to fix it
and through which channel.
"""

from __future__ import annotations

from django.urls import reverse

from pars.activities.dictionary import US_STATE_NAMES
from pars.learners.connectors.base import identifier_words
from pars.learners.models import CompletionStatus, IdentifierKind, LearnerCompletion, Recipient


def _checks(recipient: Recipient) -> str:
    """The learner's data the provider checks, as the recipient matches it."""
    if recipient.identifier_kind == IdentifierKind.LICENSE:
        npi = " (or the NPI)" if recipient.accepts_npi else ""
        return f"check the license number{npi} and license state, the name and birth date"
    if not recipient.identifier_required:
        return f"check the name, birth date and {recipient.identifier_label}"
    return f"check the {recipient.identifier_label}, name and birth date"


def _not_found(completion: LearnerCompletion) -> str:
    """'No North Carolina license 12345 found for Jane Doe' (the reader sees personal data)."""
    recipient = completion.recipient
    name = completion.learner_name
    if recipient.identifier_kind == IdentifierKind.LICENSE:
        state = completion.license_state or recipient.state
        what = f"{US_STATE_NAMES.get(state, state)} license"
        if completion.learner_id:
            return f"No {what} {completion.learner_id} found for {name}"
        return f"No {what} with NPI {completion.npi} found for {name}"
    if completion.learner_id:
        label = recipient.identifier_label
        return f"No {recipient.code} learner with {label} {completion.learner_id} found for {name}"
    return f"No {recipient.code} learner named {name} with this birth date found"


def _found_other(completion: LearnerCompletion, reason: str) -> str:
    """'North Carolina license 12345 is in the NC registry, but the birth date differs for
    Jane Doe' from the registry's value-free reason ('A learner with this ... but ...')."""
    recipient = completion.recipient
    if "this NPI" in reason:
        subject = f"NPI {completion.npi}"
    elif recipient.identifier_kind == IdentifierKind.LICENSE:
        state = completion.license_state or recipient.state
        subject = f"{US_STATE_NAMES.get(state, state)} license {completion.learner_id}"
    else:
        subject = f"{recipient.identifier_label} {completion.learner_id}"
    name = completion.learner_name
    _, but, differs = reason.partition(", but ")
    if not but:  # a recipient's own words: quote them, then what the record says
        return f"{reason} (the record: {subject}, {name})"
    return f"{subject} is in the {recipient.code} registry, but {differs} for {name}"


def _channels(completion: LearnerCompletion) -> str:
    api = reverse("api-v1:learner_completion", kwargs={"completion_id": completion.pk})
    noun = identifier_words(completion.recipient)
    return (
        f"then correct the record: Correct on its page, or PATCH {api} in the web service "
        f"(in a learner file, a row with another {noun} is a new record: send this one as a "
        f"Delete row). The corrected record is sent to {completion.recipient.code} again at "
        "once."
    )


def what_to_do(completion: LearnerCompletion, *, personal: bool) -> str:
    """What did not match or was refused, and how to fix it; "" when nothing is to do.

    ``personal``: the reader may see the learner's data (the provider's own users and
    keys asking for it), so the text may name the license number and the learner.
    """
    recipient = completion.recipient
    reason = completion.status_reason.strip().rstrip(".")
    if completion.status == CompletionStatus.HELD:
        # The registry's answer says "No learner ..." when nobody has the identifier;
        # otherwise someone has it, with other data (the reason names the fields).
        found_nobody = not reason or reason.startswith("No ")
        if personal and found_nobody:
            what = _not_found(completion)
        elif personal:
            what = _found_other(completion, reason)
        else:
            what = reason or f"The learner was not found in the {recipient.code} registry"
        return f"{what}: {_checks(recipient)}, {_channels(completion)}"
    if completion.status == CompletionStatus.REJECTED:
        refused = reason or f"Rejected by {recipient.code}"
        return (
            f"{refused}: fix what the reason says, {_channels(completion)} "
            "Or withdraw the record if it should not have been reported."
        )
    return ""
