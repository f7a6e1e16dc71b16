"""The learner pages (views in the views package)."""

from django.urls import path

from pars.learners.views import (
    completions,
    prevalidation,
    registrations,
    rules,
    staff,
    uploads,
    webhooks,
    year_checks,
)

app_name = "learners"

P = "p/<str:provider_id>/"  # one provider's workspace; its views apply the tenancy rule
A = P + "activities/<int:pk>/registrations/"  # one activity's registrations
L = P + "learners/"
S = "staff/providers/<str:provider_id>/"  # staff pages; the views apply the tenancy rule

urlpatterns = [
    path(A + "new/", registrations.registration_new, name="registration_new"),
    path(A + "<str:code>/", registrations.registration_edit, name="registration"),
    path(A + "<str:code>/delete/", registrations.registration_delete, name="registration_delete"),
    path("rules/learners/", rules.rule_catalogue, name="rules"),  # public
    path(L, completions.completion_list, name="list"),
    path(L + "export.csv", completions.completion_download, {"fmt": "csv"}, name="export_csv"),
    path(L + "export.xlsx", completions.completion_download, {"fmt": "xlsx"}, name="export_xlsx"),
    path(L + "new/", completions.completion_new, name="new"),
    path(L + "<int:pk>/", completions.completion_detail, name="detail"),
    path(L + "<int:pk>/correct/", completions.completion_correct, name="correct"),
    path(L + "<int:pk>/resubmit/", completions.completion_resubmit, name="resubmit"),
    path(L + "<int:pk>/withdraw/", completions.completion_withdraw, name="withdraw"),
    path(L + "uploads/", uploads.learner_uploads, name="uploads"),
    path(L + "uploads/template.xlsx", uploads.learner_template, name="template"),
    path(L + "uploads/accme-template.xlsx", uploads.accme_learner_template, name="accme_template"),
    path(L + "prevalidate/", prevalidation.prevalidation, name="prevalidate"),
    path(L + "webhooks/", webhooks.webhook_list, name="webhooks"),
    path(
        L + "webhooks/<int:pk>/deactivate/", webhooks.webhook_deactivate, name="webhook_deactivate"
    ),
    path(L + "webhooks/<int:pk>/delete/", webhooks.webhook_delete, name="webhook_delete"),
    path(L + "webhooks/<int:pk>/test/", webhooks.webhook_test, name="webhook_test"),
    path(S + "learners/", staff.staff_completions, name="staff_list"),
    path(S + "learners/export.csv", staff.staff_download, {"fmt": "csv"}, name="staff_export_csv"),
    path(
        S + "learners/export.xlsx", staff.staff_download, {"fmt": "xlsx"}, name="staff_export_xlsx"
    ),
    # Reads learner data, so it lives here, beside the annual report's pages in the URL.
    path(P + "report/<int:year>/checks/", year_checks.year_checks, name="year_checks"),
]
