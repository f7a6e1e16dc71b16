"""A provider's profile, contacts and decisions, and the staff provider pages.

They need tenancy (accounts) and the audit trail, so they live above both, beside the
accreditation decisions; the URL names stay ``providers:*``.
"""

from django.urls import path

from pars.accreditation import provider_views as views

app_name = "providers"

P = "p/<str:provider_id>/"  # one provider's workspace; its views apply the tenancy rule

urlpatterns = [
    path(P + "profile/", views.profile, name="profile"),
    path(P + "profile/edit/", views.profile_edit, name="profile_edit"),
    path(P + "contacts/new/", views.contact_edit, name="contact_new"),
    path(P + "contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path(P + "contacts/<int:pk>/delete/", views.contact_delete, name="contact_delete"),
    path(P + "decisions/", views.decision_history, name="decisions"),
    path("staff/providers/", views.staff_list, name="staff_list"),
    path("staff/providers/<str:provider_id>/", views.staff_detail, name="staff_detail"),
    path(
        "staff/providers/<str:provider_id>/decisions/",
        views.staff_decision_add,
        name="staff_decision_add",
    ),
    path("staff/providers/<str:provider_id>/edit/", views.staff_edit, name="staff_edit"),
    path("staff/providers/<str:provider_id>/status/", views.staff_status, name="staff_status"),
]
