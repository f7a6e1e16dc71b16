app_name = "learners"

P = "p/<str:provider_id>/"  # one provider's workspace; its views apply the tenancy rule

urlpatterns: list[object] = [
    # filled by the web UI (views.py)
]
