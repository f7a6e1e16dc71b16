from collections.abc import Callable

import pytest

from pars.accounts.models import User
from pars.notifications.models import NotificationPreference


@pytest.fixture
def opt_out() -> Callable[[User, str], None]:
    """Turn one kind of notification email off for a user (the inbox still keeps it)."""

    def choose(user: User, kind: str) -> None:
        NotificationPreference.objects.update_or_create(
            user=user, kind=kind, defaults={"email": False}
        )

    return choose
