import datetime
from collections.abc import Iterator

import pytest
import time_machine

from pars.accounts.access import ProviderAccess, get_api_access
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.providers.models import Provider
from pars.testing import make_activity, register

# Learner rules depend on today's date (the reporting window, no future completions):
# the learner tests live on a fixed day, with activities dated in March 2026.
TODAY = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _fixed_today() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=True):
        yield


# A module's own fixture of the same name (an editor's access, say) takes precedence.
@pytest.fixture
def access(provider: Provider) -> ProviderAccess:
    """The provider's access through an API key."""
    return get_api_access(provider, create_api_key(provider=provider)[0])


@pytest.fixture
def activity(provider: Provider) -> Activity:
    """An activity registered for ABIM."""
    activity = make_activity(provider, provider_activity_id="GR-1", ama_credits=12)
    register(activity, "ABIM")
    return activity
