"""Learner completions and the recipients they are delivered to.

A *recipient* is anyone PARS forwards completions to: a certifying board's MOC
program, the FDA Opioid Analgesic REMS program, a state medical board. Recipients
and their rules are rows (seeded by a data migration, extended by staff in the
admin), so a new board needs no code: see ``pars.learners.dictionary``.

A completion is one learner having completed one activity, reported to one
recipient. Its personal fields (identifier, NPI, license, birth month and day) are
never logged and leave PARS only in the delivery to that recipient.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from pars.activities.models import Activity
from pars.intake.models import Channel
from pars.providers.models import Provider


class RecipientKind(models.TextChoices):
    MOC_BOARD = "moc_board", "Certifying board (MOC)"
    REMS = "rems", "FDA Opioid Analgesic REMS"
    STATE_BOARD = "state_board", "State medical board"


class IdentifierKind(models.TextChoices):
    BOARD_ID = "board_id", "Certifying board ID"
    LICENSE = "license", "State medical license ID (or NPI where the board accepts it)"
    LOCAL = "local", "Provider's own learner identifier"


class ConnectorKind(models.TextChoices):
    SIMULATOR = "simulator", "Registry simulator (tests and demo)"
    FILE = "file", "Outbound files in a directory"
    HTTP = "http", "HTTPS web service"


class Recipient(models.Model):
    """A program that receives learner completions, with its rules as data."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=RecipientKind.choices)
    active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=100)
    # State boards: the state whose licenses they hold (USPS code).
    state = models.CharField(max_length=2, blank=True)

    # Identifying the learner.
    identifier_kind = models.CharField(max_length=20, choices=IdentifierKind.choices)
    identifier_label = models.CharField(max_length=60)
    identifier_pattern = models.CharField(
        max_length=200, blank=True, help_text="A regular expression the whole identifier matches."
    )
    identifier_hint = models.CharField(max_length=200, blank=True)
    identifier_required = models.BooleanField(default=True)
    accepts_npi = models.BooleanField(
        default=False, help_text="An NPI may stand in for the identifier."
    )

    # Registering an activity.
    credit_types = models.JSONField(
        default=list, blank=True, help_text="MOC credit types the board accepts (names)."
    )
    practice_areas = models.JSONField(default=list, blank=True)
    feedback_types = models.JSONField(default=list, blank=True)
    registration_fields = models.JSONField(
        default=list,
        blank=True,
        help_text="Registration fields this recipient asks for, by name (see the dictionary).",
    )
    required_registration_fields = models.JSONField(default=list, blank=True)
    attestation_text = models.TextField(blank=True)
    exclusive_credit_types = models.JSONField(
        default=list,
        blank=True,
        help_text="Credit types one activity may not be registered for together: a list of "
        'pairs, e.g. [["Improvement in Medical Practice", "Patient Safety"]].',
    )
    earliest_activity_start = models.DateField(
        null=True,
        blank=True,
        help_text="Only activities starting on or after this day may be registered.",
    )

    # Reporting completions.
    points_step = models.DecimalField(max_digits=4, decimal_places=2, default="0.25")
    variable_credit = models.BooleanField(
        default=True,
        help_text="Learners may earn different amounts; if not, every learner earns the "
        "registered points.",
    )
    completion_fields = models.JSONField(
        default=list, blank=True, help_text="Completion fields required for this recipient."
    )
    window_years = models.PositiveSmallIntegerField(
        default=2, help_text="Completions accepted for this many calendar years (2: this and last)."
    )
    first_completion_date = models.DateField(null=True, blank=True)
    credit_type_windows = models.JSONField(
        default=list,
        blank=True,
        help_text="When a credit type may be claimed, by completion date (both days included, "
        'either may be left out): e.g. [{"credit_type": "Self-Assessment Module (SAM)", '
        '"valid_until": "2020-12-31"}].',
    )
    separate_credit_types = models.JSONField(
        default=list,
        blank=True,
        help_text="Credit types reported in a record of their own: a learner has one record "
        "per activity and completion date for these and one for the others.",
    )
    records_within_registered_points = models.BooleanField(
        default=False,
        help_text="A learner's records of one activity and completion date together may not "
        "exceed the points the activity is registered for.",
    )
    accepts_completions_after_attestation = models.BooleanField(
        "Accepts completions after the provider attests the year",
        default=False,
        help_text="Completions of an activity whose reporting year the provider has attested "
        "stay writable for this recipient (its data window decides, domain decision 6). Off: "
        "they are read-only once the year is attested, until the accreditor reopens it.",
    )
    self_reported_cme_until = models.DateField(
        null=True,
        blank=True,
        help_text="The last day the board takes its diplomates' self-reported CME "
        "(for information: completions reported through PARS are not affected).",
    )

    # Delivery.
    matches_learners = models.BooleanField(
        default=True,
        help_text="The recipient matches each learner against its own registry (MOC boards, "
        "state boards): a learner it does not know is held. Off for a recipient that only "
        "receives reports (the REMS program): what it takes is reported, nothing is held.",
    )
    connector = models.CharField(
        max_length=20, choices=ConnectorKind.choices, default=ConnectorKind.SIMULATOR
    )
    connector_config = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"

    @property
    def is_moc(self) -> bool:
        return self.kind == RecipientKind.MOC_BOARD

    def clean(self) -> None:
        """Staff edit the rules in the admin: the JSON rules must name the board's credit
        types and hold real dates, or the validator could not read them."""
        from pars.learners.validation.recipients import credit_type_rule_problems

        problems = credit_type_rule_problems(self)
        if problems:
            raise ValidationError(problems)


class ActivityRegistration(models.Model):
    """An activity registered with one recipient (MOC board, REMS or a state board)."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    # An activity with registrations is not deleted unless the registrations go first
    # (or its whole provider is deleted); the activity writer refuses it with a rule.
    activity = models.ForeignKey(Activity, on_delete=models.RESTRICT, related_name="registrations")
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="+")
    moc_points = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    credit_types = models.JSONField(default=list, blank=True)
    practice_areas = models.JSONField(default=list, blank=True)
    participation_threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    feedback_type = models.CharField(max_length=100, blank=True)
    disclosure_date = models.DateField(null=True, blank=True)
    credit_claim_date = models.DateField(null=True, blank=True)
    internal_id = models.CharField(max_length=100, blank=True)
    rems_type = models.CharField(max_length=40, blank=True)
    rems_rpc_id = models.CharField(max_length=20, blank=True)
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attested_at = models.DateTimeField(null=True, blank=True)
    last_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["activity", "recipient__sort_order"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "recipient"], name="one_registration_per_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.activity_id} → {self.recipient_id}"


class CompletionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    ACCEPTED = "accepted", "Accepted"
    # Taken by a recipient that matches no identities (REMS): in its report.
    REPORTED = "reported", "Reported"
    REJECTED = "rejected", "Rejected"
    HELD = "held", "Held (learner not matched)"
    WITHDRAWAL_QUEUED = "withdrawal_queued", "Withdrawal queued"
    WITHDRAWAL_SENT = "withdrawal_sent", "Withdrawal sent"
    WITHDRAWN = "withdrawn", "Withdrawn"


# Statuses whose record waits for the delivery task.
WAITING_STATUSES = (CompletionStatus.QUEUED, CompletionStatus.WITHDRAWAL_QUEUED)
# Statuses whose record is with the recipient, awaiting its answer.
IN_FLIGHT_STATUSES = (CompletionStatus.SENT, CompletionStatus.WITHDRAWAL_SENT)

# Fields that identify a person: never logged, masked for staff without an access
# record, and in no export except the delivery to the record's recipient.
PERSONAL_FIELDS = ("learner_id", "npi", "license_state", "birth_month", "birth_day")


class LearnerCompletion(models.Model):
    """One learner's completion of one activity, reported to one recipient."""

    # The biggest table of PARS: only the indexes its queries need (the unique key leads
    # with the activity, the status indexes with provider and recipient), and one foreign
    # key constraint in the database, the activity's, because COPY pays for each per row.
    # The writer takes provider and recipient from the activity and the recipient rows it
    # has just read in the same transaction; Django still cascades the deletes.
    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # Completions (accepted by a board, with their history and deliveries) are never lost
    # to a delete of their activity, nor of its provider: PROTECT here, and the database
    # constraint refuses any delete that gets past Django.
    activity = models.ForeignKey(
        Activity, on_delete=models.PROTECT, related_name="learner_completions", db_index=False
    )
    recipient = models.ForeignKey(
        Recipient,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Normalized identity used to recognize the same learner again (no raw birth date).
    learner_key = models.CharField(max_length=200)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    birth_month = models.PositiveSmallIntegerField()
    birth_day = models.PositiveSmallIntegerField()
    # The board ID (MOC), the license number (state boards) or the provider's key (REMS).
    learner_id = models.CharField(max_length=40, blank=True)
    npi = models.CharField(max_length=10, blank=True)
    license_state = models.CharField(max_length=2, blank=True)
    completion_date = models.DateField()
    cme_credits = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    moc_points = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    moc_credit_types = models.JSONField(default=list, blank=True)
    profession = models.CharField(max_length=40, blank=True)
    # REMS learner fields (reference 5.6).
    practice_state = models.CharField(max_length=2, blank=True)
    dea_registration = models.CharField(max_length=20, blank=True)
    practice_area = models.CharField(max_length=60, blank=True)
    surgical_procedures = models.BooleanField(null=True, blank=True)
    time_in_practice = models.CharField(max_length=30, blank=True)

    status = models.CharField(
        max_length=20, choices=CompletionStatus.choices, default=CompletionStatus.QUEUED
    )
    status_reason = models.CharField(max_length=500, blank=True)
    status_code = models.CharField(max_length=60, blank=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    # A record is resent whole after each change; the recipient replaces earlier versions.
    version = models.PositiveIntegerField(default=1)
    # The delivery batch that holds the record now (set while it is being sent).
    batch = models.ForeignKey(
        "DeliveryBatch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    ever_sent = models.BooleanField(default=False)
    last_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    upload = models.ForeignKey(
        "intake.Upload",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # The write that added the record (its user or API key, channel and time), as an
    # activity keeps it: the record's history credits whoever added it.
    created_by_event = models.ForeignKey(
        "audit.AuditEvent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-completion_date", "last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "recipient", "learner_key", "completion_date"],
                name="one_completion_per_learner_activity_recipient_date",
            ),
            models.CheckConstraint(
                name="completion_birth_month_valid",
                condition=Q(birth_month__gte=1, birth_month__lte=12),
            ),
        ]
        indexes = [
            models.Index(fields=["provider", "status"], name="completion_provider_status"),
            models.Index(fields=["recipient", "status"], name="completion_recipient_status"),
            models.Index(
                fields=["batch"], name="completion_in_batch", condition=Q(batch__isnull=False)
            ),
            models.Index(
                fields=["upload"], name="completion_by_upload", condition=Q(upload__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"Completion {self.pk} ({self.recipient_id}, {self.status})"

    @property
    def learner_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class CompletionEventKind(models.TextChoices):
    CREATED = "created", "Submitted"
    CORRECTED = "corrected", "Corrected"
    RESUBMITTED = "resubmitted", "Resubmitted"
    WITHDRAWAL_REQUESTED = "withdrawal_requested", "Withdrawal requested"
    DELETED = "deleted", "Deleted before it was sent"
    SENT = "sent", "Sent to recipient"
    ACCEPTED = "accepted", "Accepted by recipient"
    REPORTED = "reported", "Reported to recipient (no learner matching)"
    REJECTED = "rejected", "Rejected by recipient"
    HELD = "held", "Held: learner not matched"
    RELEASED = "released", "Released for resending"
    WITHDRAWN = "withdrawn", "Withdrawn at recipient"


class CompletionEvent(models.Model):
    """The history of a completion. Holds field names, never personal values."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    completion = models.ForeignKey(
        LearnerCompletion, on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=30, choices=CompletionEventKind.choices)
    version = models.PositiveIntegerField()
    detail = models.CharField(max_length=500, blank=True)
    changed_fields = models.JSONField(default=list, blank=True)
    channel = models.CharField(max_length=10, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The API key of a change made through the web service (its name is credited).
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["completion", "at", "id"]

    def __str__(self) -> str:
        return f"{self.completion_id} {self.kind}"


class BatchStatus(models.TextChoices):
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent, awaiting results"
    DONE = "done", "Results received"
    FAILED = "failed", "Gave up"


class DeliveryBatch(models.Model):
    """Completions sent to one recipient together; resent with the same key until received.

    The key lets the recipient recognize a batch it already has, so a worker that dies
    after sending but before recording it causes a resend the recipient ignores.
    """

    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="batches")
    key = models.UUIDField(default=uuid.uuid4, unique=True)
    status = models.CharField(
        max_length=10, choices=BatchStatus.choices, default=BatchStatus.SENDING
    )
    items_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    receipt = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Batch {self.pk} to {self.recipient_id} ({self.status})"


class DeliveryAction(models.TextChoices):
    SUBMIT = "submit", "Submit"
    WITHDRAW = "withdraw", "Withdraw"


class DeliveryItem(models.Model):
    """One record in a delivery batch, as it was sent, and what the recipient answered."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(DeliveryBatch, on_delete=models.CASCADE, related_name="items")
    completion = models.ForeignKey(
        LearnerCompletion, on_delete=models.CASCADE, related_name="deliveries"
    )
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=DeliveryAction.choices)
    payload = models.JSONField()  # exactly what was sent: resent unchanged on retries
    outcome = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    reason_code = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["completion", "version", "action"], name="each_version_sent_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.completion_id} v{self.version} {self.action}"


class WebhookEndpoint(models.Model):
    """An integrator's URL told of completion status changes (signed with its secret)."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # The latest delivery attempt, whatever its outcome (the page's "Last delivery").
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status it answered; empty when it did not."
    )
    last_outcome = models.CharField(
        max_length=200, blank=True, help_text='"200 OK", "500 Internal Server Error", "timed out"…'
    )

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.url

    @property
    def last_attempt_ok(self) -> bool:
        code = self.last_status_code
        return code is not None and 200 <= code < 300


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Gave up"


class WebhookDelivery(models.Model):
    """One notification to one endpoint, retried with backoff until it is delivered."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(default=uuid.uuid4, unique=True)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class RegistryLearner(models.Model):
    """A learner in the registry simulator (stands in for a board's or state's roster)."""

    recipient_code = models.CharField(max_length=20)
    learner_id = models.CharField(max_length=40, blank=True)
    npi = models.CharField(max_length=10, blank=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    birth_month = models.PositiveSmallIntegerField()
    birth_day = models.PositiveSmallIntegerField()
    license_state = models.CharField(max_length=2, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["recipient_code", "learner_id"]),
            models.Index(fields=["recipient_code", "last_name"]),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_code} registry learner {self.pk}"


class SimulatedBatch(models.Model):
    """What the registry simulator received, by batch key: a resend is recognized."""

    recipient_code = models.CharField(max_length=20)
    key = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # How often the batch arrived: a resend after a worker died counts here, nowhere else.
    times_received = models.PositiveIntegerField(default=1)
    results = models.JSONField(default=list)
    results_ready_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.key
