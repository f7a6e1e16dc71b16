"""Batch uploads of activity files (views in upload_views.py)."""

from django.urls import URLPattern

app_name = "uploads"

urlpatterns: list[URLPattern] = []
