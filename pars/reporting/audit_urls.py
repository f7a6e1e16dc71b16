"""The audit trail pages, for staff and for a provider's own activities (audit_views.py).

They show activity and program-summary changes, so they live in reporting, above both;
``pars.audit`` itself only records events.
"""

from django.urls import path

from pars.reporting import audit_views as views

app_name = "audit"

S = "staff/providers/<str:provider_id>/"  # staff pages; the views apply the tenancy rule

P = "p/<str:provider_id>/"  # one provider's workspace

urlpatterns = [
    path(P + "activities/<int:pk>/history/", views.provider_activity_history, name="history"),
    path(S + "audit/", views.provider_audit, name="provider"),
    # Provider Activity IDs are the provider's own text and may contain "/".
    path(
        S + "activities/<path:provider_activity_id>/audit/",
        views.activity_audit,
        name="activity",
    ),
]
