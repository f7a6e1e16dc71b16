"""Batch uploads: the activity list and template (upload_views.py), and the pages every
record kind's uploads share (pars.intake.views)."""

from django.urls import path

from pars.activities import upload_views as views
from pars.intake import views as shared

app_name = "uploads"

P = "p/<str:provider_id>/uploads/"  # one provider's workspace; its views apply the tenancy rule

urlpatterns = [
    path(P, views.upload_list, name="list"),
    path(P + "template.xlsx", views.upload_template, name="template"),
    path(P + "template.txt", views.upload_template_tsv, name="template_tsv"),
    path(P + "learner-counts.xlsx", views.learner_counts_template, name="learner_counts"),
    path(P + "learner-counts.txt", views.learner_counts_template_tsv, name="learner_counts_tsv"),
    path(P + "<int:pk>/", shared.upload_detail, name="detail"),
    path(P + "<int:pk>/progress/", shared.upload_progress, name="progress"),
    path(P + "<int:pk>/errors.csv", shared.upload_errors_csv, name="errors_csv"),
    path(P + "<int:pk>/errors.xlsx", shared.upload_errors_xlsx, name="errors_xlsx"),
]
