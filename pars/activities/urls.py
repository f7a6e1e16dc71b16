from django.urls import path

from pars.activities import views

app_name = "activities"

P = "p/<str:provider_id>/"  # one provider's workspace; its views apply the tenancy rule

urlpatterns = [
    path(P + "activities/", views.activity_list, name="list"),
    path(P + "activities/<int:pk>/", views.activity_detail, name="detail"),
]
