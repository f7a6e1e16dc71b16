"""The review package of a provider, for staff: page, XLSX and PDF."""

from django.urls import path

from pars.accreditation import review_views

app_name = "review"

R = "staff/providers/<str:provider_id>/review-package"

urlpatterns = [
    path(R + "/", review_views.package, name="package"),
    path(R + ".xlsx", review_views.package_xlsx, name="package_xlsx"),
    path(R + ".pdf", review_views.package_pdf, name="package_pdf"),
]
