from django.urls import path

from pars.reporting import views

app_name = "reporting"

P = "p/<str:provider_id>/"  # one provider's workspace; its views apply the tenancy rule

urlpatterns = [
    path(P, views.dashboard, name="dashboard"),
    path(P + "report/program-summary/", views.program_summary_current, name="summary_current"),
    path(P + "report/attest/", views.attest_current, name="attest_current"),
    path(P + "report/<int:year>/program-summary/", views.program_summary, name="program_summary"),
    path(P + "report/<int:year>/attest/", views.attest_page, name="attest"),
    path("guide/", views.guide, name="guide"),
    # The accreditor's staff (staff_view; state-accreditor staff see only their providers).
    path("staff/reporting/", views.staff_current, name="staff_current"),
    path("staff/reporting/<int:year>/", views.staff_year, name="staff_year"),
    path("staff/reporting/<int:year>/reminders/", views.staff_reminders, name="staff_reminders"),
    path(
        "staff/providers/<str:provider_id>/reporting/<int:year>/reopen/",
        views.staff_reopen,
        name="staff_reopen",
    ),
]
