from django.urls import path

from pars.accreditation import views

app_name = "accreditation"

P = "p/<str:provider_id>/accreditation/"  # the provider's workspace: provider_view applies
C = P + "<int:pk>/"

urlpatterns = [
    path(P, views.case_list, name="cases"),
    path(C, views.case_detail, name="case"),
    path(C + "sections/<int:section_pk>/", views.section, name="section"),
    path(
        C + "sections/<int:section_pk>/documents/",
        views.document_upload,
        name="document_upload",
    ),
    path(C + "documents/<int:doc_pk>/", views.document_download, name="document"),
    path(C + "documents/<int:doc_pk>/remove/", views.document_remove, name="document_remove"),
    path(C + "pip/", views.pip, name="pip"),
    path(C + "pip/<int:sel_pk>/remove/", views.pip_remove, name="pip_remove"),
    path(C + "pip/<int:sel_pk>/evidence/", views.evidence_upload, name="evidence_upload"),
    path(C + "pip/<int:sel_pk>/evidence/<int:ev_pk>/", views.evidence_download, name="evidence"),
    path(C + "submit/", views.submit, name="submit"),
    path(C + "submissions/<int:version>/", views.submission, name="submission"),
    # The accreditor's staff (staff_view; state-accreditor staff see only their providers).
    path("staff/accreditation/", views.staff_cases, name="staff_cases"),
    path("staff/accreditation/open/", views.staff_open, name="staff_open"),
    path("staff/accreditation/applicant/", views.staff_applicant, name="staff_applicant"),
    path("staff/accreditation/<int:pk>/", views.staff_case, name="staff_case"),
    path("staff/accreditation/<int:pk>/review/", views.staff_start_review, name="staff_review"),
    path("staff/accreditation/<int:pk>/comment/", views.staff_comment, name="staff_comment"),
    path(
        "staff/accreditation/<int:pk>/request-information/",
        views.staff_request_info,
        name="staff_request_info",
    ),
    path("staff/accreditation/<int:pk>/decision/", views.staff_decide, name="staff_decide"),
]
