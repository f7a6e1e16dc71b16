"""The anonymised research data set (accreditor staff)."""

from django.urls import path

from pars.datareports import research_views as views

app_name = "research"

urlpatterns = [
    path("staff/research/", views.research_list, name="list"),
    path("staff/research/request/", views.research_request, name="request"),
    path("staff/research/<int:export_id>/", views.research_detail, name="detail"),
    path("staff/research/<int:export_id>/download/", views.research_download, name="download"),
]
