"""The text of the first attestation statement (later versions are added by staff)."""

FIRST_STATEMENT = (
    "I attest, on behalf of my organization, that the activity and program summary data "
    "entered in PARS for this reporting year are complete and accurate to the best of my "
    "knowledge: every accredited activity of the year is reported, commercial support is "
    "reported for each activity that received it, and the program summary reflects the "
    "organization's program. I understand that once I attest, this year's data can no longer "
    "be added or changed unless the accreditor reopens the year, and that the accreditor uses "
    "these data for accreditation decisions, annual reports and reports to certifying boards "
    "and regulators."
)
