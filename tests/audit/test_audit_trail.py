"""The audit trail keeps who changed what, including what a delete removed."""

import datetime

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import ActivityChange
from pars.activities.services import delete_activity, save_activity
from pars.activities.validation import validate_activity
from pars.audit.models import AuditAction, AuditEvent
from pars.providers.models import Provider
from tests.activities.test_validation import course

TODAY = datetime.date(2026, 11, 27)


def _save(access: object, **overrides: object) -> object:
    clean, errors = validate_activity(course(**overrides), today=TODAY)
    assert clean is not None, errors
    return save_activity(access, clean, channel="web")  # type: ignore[arg-type]


def test_updates_record_field_changes_and_deletes_keep_what_was_removed(
    provider: Provider, editor: User
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    _save(access, provider_activity_id="A-1", title="Before")
    activity = _save(access, provider_activity_id="A-1", title="After", physician_learners="99")
    update = ActivityChange.objects.get(provider_activity_id="A-1", action="updated")
    assert update.changes["title"] == ["Before", "After"]
    assert update.changes["physician_learners"] == [120, 99]
    assert update.event.user == editor
    assert update.event.channel == "web"
    delete_activity(access, activity)  # type: ignore[arg-type]
    deleted = ActivityChange.objects.get(provider_activity_id="A-1", action="deleted")
    assert deleted.changes["title"] == ["After", None]
    assert deleted.changes["city"] == ["Chicago", None]
    assert deleted.event.action == AuditAction.ACTIVITIES_DELETED
    assert AuditEvent.objects.filter(provider=provider).count() == 3
