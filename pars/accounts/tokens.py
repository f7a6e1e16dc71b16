"""Single-use, expiring tokens for the Set Password (invitation) and reset links.

Both are Django password-reset tokens: they embed the password hash and last login,
so they stop working once used. Each kind has its own salt, so one cannot stand in
for the other, and its own maximum age.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.http import base36_to_int

from pars.accounts.models import User


class _ExpiringTokenGenerator(PasswordResetTokenGenerator):
    max_age_setting: str

    def check_token(self, user: User | None, token: str | None) -> bool:
        if not super().check_token(user, token):
            return False
        assert token is not None
        max_age: timedelta = getattr(settings, self.max_age_setting)
        issued = base36_to_int(token.split("-")[0])
        return self._num_seconds(self._now()) - issued <= max_age.total_seconds()


class InvitationTokenGenerator(_ExpiringTokenGenerator):
    key_salt = "pars.accounts.tokens.InvitationTokenGenerator"
    max_age_setting = "PARS_INVITATION_MAX_AGE"


class PasswordResetTokenGeneratorWithMaxAge(_ExpiringTokenGenerator):
    key_salt = "pars.accounts.tokens.PasswordResetTokenGenerator"
    max_age_setting = "PARS_PASSWORD_RESET_MAX_AGE"


invitation_token_generator = InvitationTokenGenerator()
password_reset_token_generator = PasswordResetTokenGeneratorWithMaxAge()
