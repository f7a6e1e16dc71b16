"""The recipient's rules about who the learner is: identifier, NPI, licence state."""

from __future__ import annotations

from pars.activities.dictionary import US_STATE_NAMES

from .readers import _Errors
from .recipients import RecipientRules


def _identity_rules(
    rules: RecipientRules, learner_id: str, npi: str, license_state: str, errors: _Errors
) -> None:
    label = rules.identifier_label
    if learner_id:
        if not rules.identifier_matches(learner_id):
            hint = f" ({rules.identifier_hint})" if rules.identifier_hint else ""
            errors.add(
                "learner_id",
                "learner.learner_id.invalid",
                f"{label} does not have the form {rules.code} uses{hint}.",
            )
    elif rules.identifier_required and not (rules.accepts_npi and npi):
        alternative = " or the NPI" if rules.accepts_npi else ""
        errors.add(
            "learner_id",
            "learner.learner_id.required",
            f"{label}{alternative} is required for {rules.code}.",
        )
    if rules.is_state_board:
        if not license_state:
            errors.add("license_state", "learner.license_state.required")
        elif rules.state and license_state != rules.state:
            errors.add(
                "license_state",
                "learner.license_state.mismatch",
                f"{rules.name} takes licences of "
                f"{US_STATE_NAMES.get(rules.state, rules.state)} only.",
            )
