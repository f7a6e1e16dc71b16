"""Route samples for the upload pages and API (see route_walker.py)."""

from typing import Any

from tests.support.route_walker import Kind, Sample, Victim


def _upload(v: Victim) -> dict[str, Any]:
    return {"provider_id": v.provider.provider_id, "pk": v.upload.pk}


def _provider(v: Victim) -> dict[str, Any]:
    return {"provider_id": v.provider.provider_id}


def _api_upload(v: Victim) -> dict[str, Any]:
    return {"upload_id": v.upload.pk}


UPLOAD_SAMPLES: dict[str, Sample] = {
    "uploads:list": Sample(Kind.PROVIDER, _provider),
    "uploads:template": Sample(Kind.PROVIDER, _provider),
    "uploads:template_tsv": Sample(Kind.PROVIDER, _provider),
    "uploads:learner_counts": Sample(Kind.PROVIDER, _provider),
    "uploads:learner_counts_tsv": Sample(Kind.PROVIDER, _provider),
    "uploads:detail": Sample(Kind.PROVIDER, _upload),
    "uploads:progress": Sample(Kind.PROVIDER, _upload),
    "uploads:errors_csv": Sample(Kind.PROVIDER, _upload),
    "uploads:errors_xlsx": Sample(Kind.PROVIDER, _upload),
    "api-v1:upload": Sample(Kind.API_OBJECT, _api_upload),
    "api-v1:upload_errors": Sample(Kind.API_OBJECT, _api_upload),
    # Creates for the key's own provider only (the walk checks the victim is unchanged).
    "api-v1:upload_create": Sample(Kind.API_COLLECTION),
}
