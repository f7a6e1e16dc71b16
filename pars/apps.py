from django.apps import AppConfig


class ParsConfig(AppConfig):
    """Project-wide pieces: base templates, static files, system checks, security logging."""

    name = "pars"
    verbose_name = "PARS"

    def ready(self) -> None:
        from pars import checks  # noqa: F401  (registers the checks)
        from pars.lib.prepared import plan_prepared_statements_once, remember_long_statements
        from pars.lib.security_log import connect_signals
        from pars.lib.sqlite_lock import log_lock_waits

        connect_signals()
        remember_long_statements()
        plan_prepared_statements_once()
        log_lock_waits()
