"""Project-wide tables: the rate limits' request counters."""

from django.db import models


class RateLimitCounter(models.Model):
    """Requests counted in one fixed window of one rate limit (``pars.accounts.ratelimit``).

    Kept in the database so that every web process on every machine counts into the same
    row, with one atomic statement per request; rows of ended windows are pruned.
    """

    # SHA-256 of the limit's group and what it counts (an API key, an address, an email):
    # no address or email is stored in clear.
    bucket = models.CharField(max_length=64, primary_key=True)
    window_end = models.BigIntegerField(db_index=True)  # Unix time the window closes
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.bucket[:12]}… {self.count} until {self.window_end}"
