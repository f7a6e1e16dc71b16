"""Accredited providers, their contacts and their accreditation decision history."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

provider_id_validator = RegexValidator(
    r"^\d{7}$", "A PARS provider ID is exactly 7 digits (leading zeros count)."
)
state_code_validator = RegexValidator(r"^[A-Z]{2}$", "Use the two-letter state code, e.g. ME.")


class AccreditorType(models.TextChoices):
    ACCME = "accme", "ACCME-accredited"
    STATE = "state", "State-accredited"
    JOINT = "joint", "Jointly accredited"


class AccreditationStatus(models.TextChoices):
    APPLICANT = "applicant", "Applicant (seeking accreditation)"
    PROVISIONAL = "provisional", "Provisional Accreditation"
    ACCREDITATION = "accreditation", "Accreditation"
    COMMENDATION = "commendation", "Accreditation with Commendation"
    PROBATION = "probation", "Probation"
    NONACCREDITATION = "nonaccreditation", "Nonaccreditation"


class RecognizedAccreditor(models.Model):
    """A state medical society recognized to accredit intrastate providers."""

    name = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=2, unique=True, validators=[state_code_validator])

    class Meta:
        ordering = ["state"]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class ProviderQuerySet(models.QuerySet["Provider"]):
    def live(self) -> ProviderQuerySet:
        """Real providers only: never a sandbox (see ``Provider.sandbox_of``)."""
        return self.filter(sandbox_of__isnull=True)


def live_rows(relation: str = "provider") -> Q:
    """Rows owned by a real provider, not a sandbox, through the provider `relation`.

    Every cross-provider read (staff lists, data reports, research data, REMS report,
    board deliveries) filters with this or ``Provider.objects.live()``.
    """
    return Q(**{f"{relation}__sandbox_of__isnull": True})


class Provider(models.Model):
    provider_id = models.CharField(
        "PARS provider ID", max_length=7, unique=True, validators=[provider_id_validator]
    )
    name = models.CharField(max_length=255)
    accreditor_type = models.CharField(max_length=10, choices=AccreditorType.choices)
    recognized_accreditor = models.ForeignKey(
        RecognizedAccreditor,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="providers",
        help_text="The state medical society that accredits a state-accredited provider.",
    )
    accreditation_status = models.CharField(
        max_length=20, choices=AccreditationStatus.choices, default=AccreditationStatus.APPLICANT
    )
    term_start = models.DateField("accreditation term start", null=True, blank=True)
    term_end = models.DateField("accreditation term end", null=True, blank=True)
    address_line1 = models.CharField("address", max_length=255, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=50, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=100, blank=True, default="United States")
    phone = models.CharField(max_length=40, blank=True)
    website = models.URLField(blank=True)
    require_mfa = models.BooleanField(
        "require two-factor authentication for all users",
        default=False,
        help_text="Set by a provider administrator: members must enroll an authenticator app "
        "before they can use this provider's workspace.",
    )
    sandbox_of = models.OneToOneField(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sandbox",
        help_text="Set on a provider's sandbox: a separate tenant that only the live "
        "provider's test API keys reach, and that no report, export or board ever sees.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProviderQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="state_accredited_has_accreditor",
                condition=~Q(accreditor_type="state") | Q(recognized_accreditor__isnull=False),
            ),
            models.CheckConstraint(
                name="provider_term_in_order",
                condition=Q(term_start__isnull=True)
                | Q(term_end__isnull=True)
                | Q(term_end__gte=models.F("term_start")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider_id})"

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox_of_id is not None

    @property
    def environment(self) -> str:
        """ "sandbox" or "live", as the API's ``X-PARS-Environment`` header says."""
        return "sandbox" if self.is_sandbox else "live"


class ContactRole(models.TextChoices):
    PRIMARY = "primary", "Primary CME contact"
    LEADER = "leader", "CEO / leader"
    BILLING = "billing", "Billing contact"
    OTHER = "other", "Other"


class Contact(models.Model):
    """A person the accreditor can reach at the provider; kept current by the provider."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="contacts")
    role = models.CharField(max_length=10, choices=ContactRole.choices)
    name = models.CharField(max_length=200)
    title = models.CharField("job title", max_length=200, blank=True)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["role", "name"]
        constraints = [
            # PARS addresses one primary CME contact and one leader per provider.
            models.UniqueConstraint(
                fields=["provider", "role"],
                condition=Q(role__in=["primary", "leader"]),
                name="one_primary_and_one_leader_per_provider",
                violation_error_message="This provider already has a contact with this role.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"


class DecisionType(models.TextChoices):
    INITIAL = "initial", "Initial accreditation"
    REACCREDITATION = "reaccreditation", "Reaccreditation"
    PROGRESS_REPORT = "progress_report", "Progress report"
    PROBATION = "probation", "Probation"


class AccreditationDecision(models.Model):
    """One decision of the accreditor about a provider; providers see these read-only."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="decisions")
    decision_type = models.CharField(max_length=20, choices=DecisionType.choices)
    outcome = models.CharField(max_length=20, choices=AccreditationStatus.choices)
    decided_on = models.DateField()
    term_start = models.DateField(null=True, blank=True)
    term_end = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-decided_on", "-id"]
        constraints = [
            models.CheckConstraint(
                name="decision_term_in_order",
                condition=Q(term_start__isnull=True)
                | Q(term_end__isnull=True)
                | Q(term_end__gte=models.F("term_start")),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_decision_type_display()}: {self.get_outcome_display()} ({self.decided_on})"
        )
