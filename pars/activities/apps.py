from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "pars.activities"
    verbose_name = "Activities"

    def ready(self) -> None:
        # Registers the "activities" kind with the shared upload job (pars.intake).
        from pars.activities import uploads  # noqa: F401
