from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "pars.activities"
    verbose_name = "Activities"
