"""The real URLs plus a route whose view skips the tenancy accessor (the walker's own test)."""

from django.urls import path

from pars.urls import urlpatterns as real_urlpatterns
from tests.test_tenancy import leaky_activity

urlpatterns = [
    *real_urlpatterns,
    path("p/<str:provider_id>/leaky/<int:pk>/", leaky_activity, name="leaky_activity"),
]
