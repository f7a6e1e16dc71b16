from django.contrib import admin
from django.urls import include, path

from pars.accounts import views as accounts_views
from pars.api import api

admin.site.site_header = "PARS administration"
admin.site.site_title = "PARS admin"

# The web service first: its requests are the most frequent, and no page's route starts
# with "api/", so the order changes no answer, only how many patterns a request tries.
urlpatterns = [
    path("api/v1/", api.urls),
    path("", accounts_views.home, name="home"),
    path("", include("pars.accounts.urls")),
    path("", include("pars.reporting.urls")),
    path("", include("pars.accreditation.provider_urls")),
    path("", include("pars.activities.urls")),
    path("", include("pars.activities.upload_urls")),
    path("", include("pars.learners.urls")),
    path("", include("pars.accreditation.urls")),
    path("", include("pars.accreditation.review_urls")),
    path("", include("pars.datareports.urls")),
    path("", include("pars.datareports.research_urls")),
    path("", include("pars.notifications.urls")),
    path("", include("pars.reporting.audit_urls")),
    path("admin/", admin.site.urls),
]

# Styled pages for refusals and failures outside the web service (pars/lib/error_pages.py).
handler400 = "pars.lib.error_pages.bad_request"
handler403 = "pars.lib.error_pages.permission_denied"
handler404 = "pars.lib.error_pages.page_not_found"
handler500 = "pars.lib.error_pages.server_error"
