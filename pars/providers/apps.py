from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "pars.providers"
    verbose_name = "Providers"
