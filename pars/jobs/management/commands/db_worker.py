"""``manage.py db_worker``: django-tasks-db's worker, which also resumes a dead worker's work.

The same command name and options as django-tasks-db's (this app is listed before it in
INSTALLED_APPS, so Django finds this one first). Besides running tasks, the worker
records its heartbeat and runs :func:`pars.jobs.recovery.recover_all` when it starts
and every PARS_RECOVERY_INTERVAL_SECONDS (a thread beside the task loop). With
``--batch`` it recovers once, at the start.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.core.management.base import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker as upstream

from pars.jobs.recovery import (
    RecoveryThread,
    forget_worker,
    recover_all,
    register_worker,
    report,
)

logger = logging.getLogger("pars.jobs.recovery")


class RecoveringWorker(upstream.Worker):
    def run(self) -> None:
        # Here, not in handle(): with --reload only the child process runs tasks.
        worker = register_worker(self.worker_id)
        try:
            report(recover_all())
        except Exception:  # the tasks still run; the thread tries again
            logger.exception("Recovery at the start of worker %s failed", self.worker_id)
        thread = None if self.batch else RecoveryThread(worker)
        if thread is not None:
            thread.start()
        try:
            super().run()
        finally:
            if thread is not None:
                thread.stop()
            try:
                forget_worker(worker)
            except Exception:  # its heartbeat simply runs out
                logger.warning("Worker %s not unregistered", self.worker_id, exc_info=True)


class Command(upstream.Command):
    help = (
        "Run a database background worker; it also resumes work a dead worker left "
        "behind (uploads, deliveries, task rows), when it starts and periodically."
    )

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options: Any,
    ) -> None:
        # django-tasks-db 0.13's handle(), building a RecoveringWorker.
        self.configure_logging(verbosity)
        if reload and batch:
            upstream.logger.warning(
                "Warning: --reload and --batch cannot be specified together. Disabling autoreload."
            )
            reload = False
        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []
        if excluded_queue_names and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = RecoveringWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded_queue_names,
        )
        if reload:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
