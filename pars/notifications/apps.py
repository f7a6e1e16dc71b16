from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "pars.notifications"
    verbose_name = "Notifications"
