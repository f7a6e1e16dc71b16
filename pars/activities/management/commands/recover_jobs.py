from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pars.activities.uploads import LEASE_SECONDS, QUEUED_STALE_SECONDS, recover_stale_uploads


class Command(BaseCommand):
    help = (
        "Resume background jobs a dead task worker left behind: uploads stuck in "
        "'processing' whose lease ran out are queued again (their rolled-back run is "
        "repeated from the start; after 3 interrupted runs they fail with a message), and "
        "uploads whose queued task was lost are queued again. Safe to run at any time "
        "(cron, e.g. every 5 minutes, or by hand after a crash)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stale-seconds",
            type=float,
            default=LEASE_SECONDS,
            help=f"a running upload whose heartbeat is older is resumed (default "
            f"{LEASE_SECONDS:.0f}); use 0 only when no worker is running",
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
        self.stdout.write(
            f"Uploads queued again: {len(recovery.requeued)}; failed after "
            f"repeated interruptions: {len(recovery.failed)}; queued tasks resent: "
            f"{len(recovery.resent)}."
        )
        if recovery.failed:
            ids = ", ".join(f"#{pk}" for pk in recovery.failed)
            self.stderr.write(f"Uploads given up: {ids}.")
