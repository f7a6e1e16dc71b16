from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "pars.reporting"
    verbose_name = "Annual reporting"

    def ready(self) -> None:
        from pars.activities import year_lock  # models load only once the apps are ready
        from pars.reporting.locks import closed_years_sql, closures, locked_years

        year_lock.register(locked_years, closures, closed_years_sql)
