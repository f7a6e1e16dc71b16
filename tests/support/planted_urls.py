"""The real URLs plus a route whose view skips the tenancy accessor (the walker's own test,
tests/test_tenancy.py)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from pars.activities.models import Activity
from pars.urls import urlpatterns as real_urlpatterns


# A deliberately broken view, as a careless change might add one: it looks the
# activity up by primary key without going through the provider's access.
@login_required
def leaky_activity(request: HttpRequest, provider_id: str, pk: int) -> HttpResponse:
    return HttpResponse(Activity.objects.get(pk=pk).title)


urlpatterns = [
    *real_urlpatterns,
    path("p/<str:provider_id>/leaky/<int:pk>/", leaky_activity, name="leaky_activity"),
]
