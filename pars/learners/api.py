"""Learner completions, registrations, recipients, matches and webhooks in the web service.

One router, mounted at the API root by ``pars/api.py``, gathering the learner endpoints:

* ``api_registrations``: ``/recipients``, ``/activities/{id}/registrations[/{recipient}]``
  and the rule catalog ``/rules/learners``;
* ``api_completions``: ``/learner-completions`` (report, list, read, correct, resubmit,
  withdraw, the status query and learner files);
* ``api_matches``: ``/learner-matches`` (pre-validation);
* ``api_webhooks``: ``/webhooks``;
* ``api_year_checks``: ``/annual-reports/{year}/checks`` (the year-end data checks).

Every endpoint reaches data through the key's ProviderAccess, so another provider's records
answer 404; every record goes through the one learner validator and writer. The guide for
integrators is docs/learner-api.md.
"""

from __future__ import annotations

from ninja import Router

from pars.learners.api_completions import router as completions_router
from pars.learners.api_matches import router as matches_router
from pars.learners.api_registrations import router as registrations_router
from pars.learners.api_registrations import rules_router
from pars.learners.api_webhooks import router as webhooks_router
from pars.learners.api_year_checks import router as year_checks_router

router = Router()
router.add_router("", registrations_router)
router.add_router("", completions_router)
router.add_router("", matches_router)
router.add_router("", webhooks_router)
router.add_router("", rules_router)
router.add_router("", year_checks_router)
