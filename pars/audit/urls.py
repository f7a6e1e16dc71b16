"""The audit trail pages for staff (views in views.py)."""

from django.urls import URLPattern

app_name = "audit"

urlpatterns: list[URLPattern] = []
