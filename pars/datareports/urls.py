from django.urls import path

from pars.datareports import views

app_name = "datareports"

urlpatterns = [
    path("staff/data-report/", views.current, name="current"),
    path("staff/data-report/<int:year>/", views.data_report_page, name="data_report"),
    path("staff/data-report/<int:year>.csv", views.data_report_csv, name="data_report_csv"),
    path("staff/data-report/<int:year>.xlsx", views.data_report_xlsx, name="data_report_xlsx"),
    path("staff/rems-report/<int:year>.xlsx", views.rems_report_xlsx, name="rems_xlsx"),
    path("staff/rems-report/<int:year>-<slug:sheet>.csv", views.rems_report_csv, name="rems_csv"),
]
