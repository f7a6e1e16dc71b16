from django.apps import AppConfig


class DatareportsConfig(AppConfig):
    name = "pars.datareports"
    verbose_name = "Data reports"
    default_auto_field = "django.db.models.BigAutoField"
