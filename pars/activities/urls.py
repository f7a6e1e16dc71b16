from django.urls import path

from pars.activities import rules_views, sandbox, views

app_name = "activities"

P = "p/<str:provider_id>/"  # one provider's workspace; its views apply the tenancy rule

urlpatterns = [
    path(P + "activities/", views.activity_list, name="list"),
    path(P + "activities/new/", views.activity_new, name="new"),
    path(P + "activities/export.xml", views.activity_export_xml, name="export_xml"),
    path(P + "activities/export.txt", views.activity_export_tsv, name="export_tsv"),
    path(P + "activities/export.xlsx", views.activity_export_xlsx, name="export_xlsx"),
    path(P + "activities/<int:pk>/", views.activity_detail, name="detail"),
    path(P + "activities/<int:pk>/edit/", views.activity_edit, name="edit"),
    path(P + "activities/<int:pk>/copy/", views.activity_copy, name="copy"),
    path(P + "activities/<int:pk>/delete/", views.activity_delete, name="delete"),
    path(P + "sandbox/", sandbox.sandbox_page, name="sandbox"),
    path("rules/activities/", rules_views.rule_catalogue, name="rules"),  # public
]
