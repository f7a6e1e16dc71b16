from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """Record intake: uploads as jobs, their models, readers, fields and rules, idempotency."""

    name = "pars.intake"
    verbose_name = "Record intake"
