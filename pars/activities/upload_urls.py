"""Batch uploads of activity files (views in upload_views.py)."""

from django.urls import path

from pars.activities import upload_views as views

app_name = "uploads"

P = "p/<str:provider_id>/uploads/"  # one provider's workspace; its views apply the tenancy rule

urlpatterns = [
    path(P, views.upload_list, name="list"),
    path(P + "template.xlsx", views.upload_template, name="template"),
    path(P + "<int:pk>/", views.upload_detail, name="detail"),
    path(P + "<int:pk>/progress/", views.upload_progress, name="progress"),
    path(P + "<int:pk>/errors.csv", views.upload_errors_csv, name="errors_csv"),
    path(P + "<int:pk>/errors.xlsx", views.upload_errors_xlsx, name="errors_xlsx"),
]
