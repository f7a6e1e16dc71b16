from django.apps import AppConfig


class ParsConfig(AppConfig):
    """Project-wide pieces: base templates, static files and system checks."""

    name = "pars"
    verbose_name = "PARS"

    def ready(self) -> None:
        from pars import checks  # noqa: F401  (registers the checks)
