import datetime
from collections.abc import Iterator

import pytest
import time_machine

# Learner rules depend on today's date (the reporting window, no future completions):
# the learner tests live on a fixed day, with activities dated in March 2026.
TODAY = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _fixed_today() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=True):
        yield
