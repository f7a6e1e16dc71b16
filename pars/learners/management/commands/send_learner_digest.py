from typing import Any

from django.core.management.base import BaseCommand

from pars.learners.digest import send_digests


class Command(BaseCommand):
    help = (
        "Tell each provider's administrators and editors how many learner records were "
        "rejected or held since the last digest (counts only, no personal data). Run daily; "
        "a second run the same day tells no one twice."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        sent = send_digests()
        self.stdout.write(f"Digests: {sent} provider{'s' if sent != 1 else ''}.")
