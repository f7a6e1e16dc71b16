"""Background entry point of the upload job; the work itself is in process.py."""

import logging

from django.tasks import task

from pars.intake.announce import announce_if_large
from pars.intake.process import process_upload
from pars.intake.recover import recover_stale_uploads

logger = logging.getLogger(__name__)


@task()
def process_upload_task(upload_id: int) -> None:
    """Process one uploaded batch file (safe to run twice: a claimed upload is skipped).

    First resumes uploads whose worker died (their lease ran out): a cheap indexed query.
    """
    try:
        recover_stale_uploads()
    except Exception:  # recovery must never stop this upload
        logger.exception("Recovery of stale uploads failed")
    try:
        process_upload(upload_id)
    finally:
        announce_if_large(upload_id)  # a big or slow file tells its uploader it is done
