"""Accreditation cases: self-study, documents, performance-in-practice review, decision.

The self-study is data: a :class:`SelfStudyTemplate` per case type holds sections, their
questions and the attachments they require; staff edit them in the Django admin. A
:class:`Case` is one provider's (or applicant's) initial accreditation, reaccreditation or
progress report. Its answers, documents and performance-in-practice (PIP) selections are
edited until the provider submits; a :class:`Submission` then freezes what was sent (answers,
document hashes, PIP selections as JSON; the files themselves are locked). Staff comment,
request more information (which reopens named sections) and record the decision through
``pars.providers.services.record_decision``. All writes go through
``pars.accreditation.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from pars.activities.models import Activity
from pars.providers.models import AccreditationDecision, DecisionType, Provider


class CaseType(models.TextChoices):
    # The same values as the decision types, so a case's decision has its case's type.
    INITIAL = DecisionType.INITIAL.value, "Initial accreditation"
    REACCREDITATION = DecisionType.REACCREDITATION.value, "Reaccreditation"
    PROGRESS_REPORT = DecisionType.PROGRESS_REPORT.value, "Progress report"


class SelfStudyTemplate(models.Model):
    """The required self-study of one case type; the newest active one is used for new cases."""

    case_type = models.CharField(max_length=20, choices=CaseType.choices)
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    pip_activities = models.PositiveSmallIntegerField(
        "activities for performance-in-practice review",
        default=0,
        help_text="Each selected activity needs at least one evidence file.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case_type", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_case_type_display()})"


class SelfStudySection(models.Model):
    template = models.ForeignKey(
        SelfStudyTemplate, on_delete=models.CASCADE, related_name="sections"
    )
    code = models.CharField(max_length=20, help_text="e.g. C1")
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "code"], name="section_code_per_template")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class QuestionKind(models.TextChoices):
    TEXT = "text", "Text"
    CHOICE = "choice", "Choice"
    YES_NO = "yes_no", "Yes / no"


class Question(models.Model):
    section = models.ForeignKey(
        SelfStudySection, on_delete=models.CASCADE, related_name="questions"
    )
    text = models.TextField()
    kind = models.CharField(max_length=10, choices=QuestionKind.choices, default=QuestionKind.TEXT)
    choices = models.TextField(blank=True, help_text="For a choice question: one option a line.")
    required = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def options(self) -> list[str]:
        if self.kind == QuestionKind.YES_NO:
            return ["Yes", "No"]
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


class RequiredAttachment(models.Model):
    section = models.ForeignKey(
        SelfStudySection, on_delete=models.CASCADE, related_name="attachments"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class CaseStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    UNDER_REVIEW = "under_review", "Under review"
    INFO_REQUESTED = "info_requested", "More information requested"
    RESUBMITTED = "resubmitted", "Resubmitted"
    DECIDED = "decided", "Decided"


class Case(models.Model):
    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="accreditation_cases"
    )
    case_type = models.CharField(max_length=20, choices=CaseType.choices)
    template = models.ForeignKey(SelfStudyTemplate, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.DRAFT)
    due_date = models.DateField(null=True, blank=True)
    staff_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_accreditation_cases",
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    decision = models.OneToOneField(
        AccreditationDecision,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accreditation_case",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider"],
                condition=~Q(status="decided"),
                name="one_open_accreditation_case_per_provider",
                violation_error_message="This provider already has an open accreditation case.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_case_type_display()} of {self.provider} ({self.get_status_display()})"


class Answer(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    value = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "question"], name="one_answer_per_question")
        ]

    def __str__(self) -> str:
        return self.value[:80]


class StoredFile(models.Model):
    """A file kept under MEDIA_ROOT with a random name; locked once a submission names it."""

    file = models.FileField(upload_to="accreditation/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    locked = models.BooleanField(
        default=False, help_text="Part of a submission: kept unchanged and never removed."
    )

    class Meta:
        abstract = True
        ordering = ["uploaded_at", "id"]


class CaseDocument(StoredFile):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="documents")
    section = models.ForeignKey(SelfStudySection, on_delete=models.PROTECT, related_name="+")
    attachment = models.ForeignKey(
        RequiredAttachment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return self.original_name


class PipSelection(models.Model):
    """An activity of the provider chosen for performance-in-practice review."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="pip_selections")
    # Kept if the activity is deleted later: the submission snapshot holds its details.
    activity = models.ForeignKey(Activity, on_delete=models.SET_NULL, null=True, related_name="+")
    selected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    selected_by_staff = models.BooleanField(default=False)
    selected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["selected_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "activity"], name="activity_selected_once")
        ]

    def __str__(self) -> str:
        return f"PIP selection {self.pk}"


class PipEvidence(StoredFile):
    selection = models.ForeignKey(PipSelection, on_delete=models.CASCADE, related_name="evidence")

    def __str__(self) -> str:
        return self.original_name


class Submission(models.Model):
    """What the provider sent, frozen: version 1 is the first submission, then resubmissions."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="submissions")
    version = models.PositiveSmallIntegerField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    snapshot = models.JSONField()

    class Meta:
        ordering = ["version"]
        constraints = [
            models.UniqueConstraint(fields=["case", "version"], name="submission_version_once")
        ]

    def __str__(self) -> str:
        return f"Submission {self.version}"


class ReviewComment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="comments")
    section = models.ForeignKey(
        SelfStudySection, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    body = models.TextField()
    visible_to_provider = models.BooleanField(default=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submission_version = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:80]


class InfoRequest(models.Model):
    """Staff ask for more information: the named sections (and PIP) open again for edits."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="info_requests")
    message = models.TextField()
    sections = models.ManyToManyField(SelfStudySection, related_name="+", blank=True)
    reopen_pip = models.BooleanField("reopen the performance-in-practice selection", default=False)
    due_date = models.DateField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    answered_in = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The submission version that answered it."
    )

    class Meta:
        ordering = ["requested_at", "id"]

    def __str__(self) -> str:
        return self.message[:80]
