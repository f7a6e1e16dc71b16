from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pars.intake.recover import recover_stale_uploads
from pars.learners.delivery import run_delivery
from pars.learners.models import Recipient


class Command(BaseCommand):
    help = (
        "Deliver waiting learner completions, resend batches a dead worker left behind, "
        "collect due results and send due webhooks: for one recipient or all. Safe to run "
        "at any time (cron, or by hand after an outage)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--recipient", default="", help="one recipient code (default: all)")
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help="also resend batches that were given up (same key: received at most once)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["recipient"].strip().upper()
        if code and not Recipient.objects.filter(code=code).exists():
            raise CommandError(f"No recipient {code}.")
        # The cron safety net also resumes uploads a dead worker left running (cheap).
        recover_stale_uploads()
        run = run_delivery(code or None, retry_failed_batches=options["retry_failed"])
        self.stdout.write(
            f"Records sent: {run.records_sent}; answered: {run.records_answered}; "
            f"batches waiting to retry: {run.batches_retrying}; failed batches: "
            f"{run.batches_failed}; webhooks delivered: {run.webhooks_sent}."
        )
        if run.batches_failed:
            self.stderr.write(
                "Some batches were given up; fix the cause, then run with --retry-failed."
            )
