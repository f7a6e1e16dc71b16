from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "pars.accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from pars.accounts import signals  # noqa: F401  (connects the receivers)
