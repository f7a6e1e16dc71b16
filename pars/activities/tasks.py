"""Background entry points of the activities app; the work itself is in uploads.py."""

from django.tasks import task

from pars.activities.uploads import process_upload


@task()
def process_upload_task(upload_id: int) -> None:
    """Process one uploaded batch file (safe to run twice: a claimed upload is skipped)."""
    process_upload(upload_id)
