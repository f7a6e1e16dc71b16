"""The annual report in the web service: program summary and attestation."""

from ninja import Router

router = Router(tags=["annual report"])
