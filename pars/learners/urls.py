"""The learner pages (views in views.py)."""

from django.urls import path

from pars.learners import views

app_name = "learners"

P = "p/<str:provider_id>/"  # one provider's workspace; its views apply the tenancy rule
A = P + "activities/<int:pk>/registrations/"  # one activity's registrations
L = P + "learners/"
S = "staff/providers/<str:provider_id>/"  # staff pages; the views apply the tenancy rule

urlpatterns = [
    path(A + "new/", views.registration_new, name="registration_new"),
    path(A + "<str:code>/", views.registration_edit, name="registration"),
    path(A + "<str:code>/delete/", views.registration_delete, name="registration_delete"),
    path(L, views.completion_list, name="list"),
    path(L + "new/", views.completion_new, name="new"),
    path(L + "<int:pk>/", views.completion_detail, name="detail"),
    path(L + "<int:pk>/correct/", views.completion_correct, name="correct"),
    path(L + "<int:pk>/resubmit/", views.completion_resubmit, name="resubmit"),
    path(L + "<int:pk>/withdraw/", views.completion_withdraw, name="withdraw"),
    path(L + "uploads/", views.learner_uploads, name="uploads"),
    path(L + "uploads/template.xlsx", views.learner_template, name="template"),
    path(L + "prevalidate/", views.prevalidation, name="prevalidate"),
    path(L + "webhooks/", views.webhook_list, name="webhooks"),
    path(L + "webhooks/<int:pk>/deactivate/", views.webhook_deactivate, name="webhook_deactivate"),
    path(L + "webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook_delete"),
    path(S + "learners/", views.staff_completions, name="staff_list"),
]
