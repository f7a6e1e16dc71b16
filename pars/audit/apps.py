from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "pars.audit"
    verbose_name = "Audit trail"
