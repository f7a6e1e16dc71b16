from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "pars.accounts"
    verbose_name = "Accounts"
