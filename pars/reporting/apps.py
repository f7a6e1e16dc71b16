from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "pars.reporting"
    verbose_name = "Annual reporting"
