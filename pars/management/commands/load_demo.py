from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from pars.demo import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load (or refresh) the demo providers, users and activities, and print the logins."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = load_demo()
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for email, what in logins:
            self.stdout.write(f"  {email:<28} {what}")
        backend = str(settings.MAILERS["default"]["BACKEND"]).rsplit(".", 2)[-2]
        self.stdout.write(f"Emails (invitations, resets) are sent by the task worker ({backend}).")
