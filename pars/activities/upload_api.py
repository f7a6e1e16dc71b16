"""Batch files through the web service: POST /api/v1/uploads, GET its status."""

from ninja import Router

router = Router(tags=["uploads"])
