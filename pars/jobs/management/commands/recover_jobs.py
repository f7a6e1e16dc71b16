from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pars.intake.recover import QUEUED_STALE_SECONDS, recover_stale_uploads
from pars.jobs.recovery import prune_dead_tasks
from pars.learners.delivery import recover_stale_deliveries


class Command(BaseCommand):
    help = (
        "Resume background jobs a dead task worker left behind: uploads stuck in "
        "'processing' whose lease ran out are queued again (their rolled-back run is "
        "repeated from the start; after 3 interrupted runs they fail with a message), "
        "uploads whose queued task was lost are queued again, delivery batches a dead "
        "worker held are queued again, and the task rows dead workers left running are "
        "marked failed. Every worker does this itself when it starts and periodically; "
        "this command is the cron safety net (or for use by hand after a crash)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stale-seconds",
            type=float,
            default=None,
            help="a running upload whose heartbeat is older is resumed (default: the lease, "
            "PARS_UPLOAD_LEASE_SECONDS); use 0 only when no worker is running",
        )
        parser.add_argument(
            "--queued-seconds",
            type=float,
            default=QUEUED_STALE_SECONDS,
            help=f"a queued upload older than this is queued again (default "
            f"{QUEUED_STALE_SECONDS:.0f})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        recovery = recover_stale_uploads(
            options["stale_seconds"], queued_seconds=options["queued_seconds"]
        )
        deliveries = recover_stale_deliveries()
        tasks = prune_dead_tasks()
        self.stdout.write(
            f"Uploads queued again: {len(recovery.requeued)}; failed after "
            f"repeated interruptions: {len(recovery.failed)}; queued tasks resent: "
            f"{len(recovery.resent)}; delivery batches queued again: "
            f"{len(deliveries.sending) + len(deliveries.collecting)}; task rows of dead "
            f"workers marked failed: {len(tasks)}."
        )
        if recovery.failed:
            ids = ", ".join(f"#{pk}" for pk in recovery.failed)
            self.stderr.write(f"Uploads given up: {ids}.")
