from django.apps import AppConfig


class AccreditationConfig(AppConfig):
    name = "pars.accreditation"
    verbose_name = "Accreditation process"
    default_auto_field = "django.db.models.BigAutoField"
