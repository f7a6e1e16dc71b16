from django.apps import AppConfig


class JobsConfig(AppConfig):
    """The task worker: ``manage.py db_worker`` with recovery of a dead worker's work."""

    name = "pars.jobs"
    verbose_name = "Task workers"
