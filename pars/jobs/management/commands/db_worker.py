"""``manage.py db_worker``: django-tasks-db's worker, which also resumes a dead worker's work.

The same command name and options as django-tasks-db's (this app is listed before it in
INSTALLED_APPS, so Django finds this one first). Besides running tasks, the worker
records its heartbeat and runs :func:`pars.jobs.recovery.recover_all` when it starts
and every PARS_RECOVERY_INTERVAL_SECONDS (a thread beside the task loop). With
``--batch`` it recovers once, at the start. An idle worker waits for a notification of a
queued task (PostgreSQL; pars/jobs/wakeup.py) for at most ``--interval`` seconds, where
django-tasks-db's worker sleeps that long.
"""

from __future__ import annotations

import logging
import os
import random
import time
from typing import Any

from django.core.management.base import CommandError
from django.db import close_old_connections
from django.db.utils import OperationalError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker as upstream
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from pars.jobs.recovery import (
    RecoveryThread,
    forget_worker,
    recover_all,
    register_worker,
    report,
)
from pars.jobs.wakeup import Wakeup

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
        wakeup = Wakeup()
        try:
            self._loop(wakeup)
        finally:
            wakeup.close()
            if thread is not None:
                thread.stop()
            try:
                forget_worker(worker)
            except Exception:  # its heartbeat simply runs out
                logger.warning("Worker %s not unregistered", self.worker_id, exc_info=True)

    def _loop(self, wakeup: Wakeup) -> None:
        """django-tasks-db 0.13's ``Worker.run`` loop, waiting on `wakeup` (a notification
        on PostgreSQL) where it slept ``interval`` seconds."""
        wakeup.start()
        upstream.logger.info(
            "Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names)
        )
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # noqa: S311 (no thundering herd at start)
        while self.running:
            close_old_connections()
            task_result, retrieved = self._claim_next()
            if task_result is not None:
                self.run_task(task_result)
            if self.batch and retrieved and task_result is None:
                upstream.logger.info("No more tasks to run for worker_id=%s", self.worker_id)
                return
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                upstream.logger.info("Ran %d tasks on worker=%s", self._run_tasks, self.worker_id)
                return
            close_old_connections()
            if self.running and not task_result:
                wakeup.wait(self.interval)

    def _claim_next(self) -> tuple[DBTaskResult | None, bool]:
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            try:
                task_result = tasks.get_locked()
            except OperationalError as error:
                if is_locked_database_exception(error):  # SQLite: it unlocks eventually
                    return None, False
                raise
            if task_result is not None:
                task_result.claim(self.worker_id)  # so no other worker runs it
        return task_result, True


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
