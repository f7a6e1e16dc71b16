from django.urls import path

from pars.reporting import views

app_name = "reporting"

urlpatterns = [
    path("p/<str:provider_id>/", views.dashboard, name="dashboard"),
    path("guide/", views.guide, name="guide"),
]
