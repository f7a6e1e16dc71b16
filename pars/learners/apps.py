from django.apps import AppConfig


class LearnersConfig(AppConfig):
    name = "pars.learners"
    verbose_name = "Learner completions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the "learners" kind with the shared upload job.
        from pars.learners import uploads  # noqa: F401
