"""XML learner reports -> raw completion records (one per learner, activity and recipient).

Usage::

    for parsed in read_learner_xml(uploaded_file):   # FileRejected at once or mid-file
        ...

**The format** follows ACCME's learner reports (the 2025 ``ACCMELearnerReports`` draft,
reference 5.2-5.3) written as XML, with the REMS participant fields of the MedBiquitous
Activity Report v2 (``activityreport_2018_11_29.xsd``, reference 5.6). Every element is
matched by its local name, case-insensitively, in any namespace or none; attributes by
their plain name::

    ACCMELearnerReports                     root (or MedBiquitous ActivityReports)
    └─ LearnerReport          1..n          one learner (MedBiquitous: ActivityReport)
       ├─ Member
       │  ├─ UniqueID @domain *             the learner's identifiers: domain NPI, a
       │  │                                 recipient code (ABIM, ABS, REMS…) for its ID, or
       │  │                                 a state code (TN) for that state's license
       │  │                                 (value and domain may also be child elements)
       │  ├─ Name/GivenName, Name/FamilyName
       │  └─ PersonalInfo
       │     ├─ BirthDate                   MM-DD, --MM-DD or YYYY-MM-DD (year ignored)
       │     ├─ NPI?                        (as in ACCME's transcripts)
       │     ├─ Licensure*/{StateOfLicensure, StateMedicalLicenseID?}
       │     └─ Certification*/{CertifyingBoard, CertifyingBoardID}
       ├─ Participants/Participant?         REMS (Activity Report v2 ParticipantType):
       │     LocalIdentifier, StateOfPrimaryPractice, DEARegistration, Profession,
       │     PracticeArea, SurgicalProcedures, TimeInPractice
       ├─ Activity  1..n   @activityID or ProviderActivityID: the Provider Activity ID
       │  └─ Module  1..n
       │     ├─ ModuleName @moduleID        moduleID: the 9-digit ACCME Activity ID
       │     ├─ CompletedDateTime           the date counts (any time or zone is ignored)
       │     └─ CreditCertificate *
       │        ├─ UniqueID?                the learner's ID for this recipient
       │        └─ CreditReceived
       │           ├─ activityCertification "AMA PRA Category 1 Credit": CME credits;
       │           │                        otherwise the recipient's code (ABIM, REMS, TN)
       │           ├─ creditUnit?           Point (default): MOC points; Credit, Hour…:
       │           │                        CME credits reported to this recipient
       │           ├─ numberOfCredits?
       │           └─ CreditFocus*/Description (or MOCCreditType*): MOC credit types
       └─ XtensibleInfo/LearnerRecordAction   Add (default) or Delete

**Records.** Each certificate naming a recipient gives one completion record with the
learner, the module's activity and date, the CME credits of the module's AMA
certificate, that recipient's points and credit types, and the REMS fields. A module
without a recipient certificate gives one record without a recipient (the validator
says so). The learner ID of a record is the certificate's own ``UniqueID``, else the
Member's ``UniqueID`` whose domain is the recipient's code, else the REMS
``LocalIdentifier``; its license state is the recipient's code when the learner has a
license of that state (a state board), else for a state-coded recipient the learner's
first license state (for the validator to report), else none.

**Row numbers** count the completion records in document order, from 1: a report with
one recipient certificate is one row, one with AMA + ABIM + TN certificates is two.
Each record has its own number, so an error report never counts two records as one.

**Reading** is the shared hardened loop's (`pars.intake.readers.xml`,
:func:`~pars.intake.readers.xml.read_records` with :func:`learner_spec`): no DTD, no
entity expansion, no network, any DOCTYPE or ENTITY refused; reports are streamed and
cleared once read, so memory stays flat; more than :data:`MAX_GAP_BYTES` without a
complete report is refused. This module holds only the mapping of one report to its
records (:func:`report_records`). Values are passed raw; the one validator checks them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from pars.activities.dictionary import US_STATES
from pars.intake.readers import ParsedRow
from pars.intake.readers import xml as hardened
from pars.intake.readers.xml import ChildIndex, RecordSpec, first_child, plain_text, read_records

ROOT_NAMES = ("ACCMELearnerReports", "ActivityReports")
RECORD_NAMES = ("LearnerReport", "ActivityReport")
# The most XML read without completing a learner report (looked up at each read).
MAX_GAP_BYTES = hardened.MAX_GAP_BYTES


def learner_spec() -> RecordSpec:
    """How the shared XML loop reads a learner report file (built per read, so that
    :data:`MAX_GAP_BYTES` is looked up when the file is read)."""
    return RecordSpec(
        roots=ROOT_NAMES,
        records=RECORD_NAMES,
        layout=f"a PARS learner XML file has <{ROOT_NAMES[0]}> with one <{RECORD_NAMES[0]}> "
        "per learner (see the learner file guide).",
        one_record="a report",
        to_records=report_records,
        max_gap_bytes=MAX_GAP_BYTES,
        columns=ELEMENTS,
    )


# The element each field is read from (see report_records), for the error report.
ELEMENTS: dict[str, str] = {
    "action": "LearnerRecordAction",
    "provider_activity_id": "ProviderActivityID",
    "accme_activity_id": "ModuleID",
    "completion_date": "CompletedDateTime",
    "recipient": "ActivityCertification",
    "cme_credits": "NumberOfCredits",
    "moc_points": "NumberOfCredits",
    "moc_credit_types": "MOCCreditType",
    "first_name": "GivenName",
    "last_name": "FamilyName",
    "birth_date": "BirthDate",
    "learner_id": "CertifyingBoardID",
    "npi": "NPI",
    "license_state": "StateOfLicensure",
}


def read_learner_xml(stream: BinaryIO) -> Iterator[ParsedRow]:
    """Parse a learner report file into raw completion records (see the module docstring)."""
    return read_records(stream, learner_spec())


# ---------------------------------------------------------------------------
# One learner report

_NOTHING: ChildIndex = {}


def _index(parent: Any) -> ChildIndex:
    """The element children of `parent` by lower-case local name (any namespace)."""
    if parent is None:
        return _NOTHING
    found: ChildIndex = {}
    for child in parent:
        tag = child.tag
        if isinstance(tag, str):
            found.setdefault(tag.rpartition("}")[2].lower(), []).append(child)
    return found


def _value(index: ChildIndex, name: str) -> str | None:
    return plain_text(first_child(index, name))


def _attribute(element: Any, name: str) -> str | None:
    """An attribute by its plain name, any case; or a child element of that name (the
    JSON draft's ``{value, moduleID}`` objects written as XML)."""
    if element is None:
        return None
    wanted = name.lower()
    for key, value in element.attrib.items():
        if key.rpartition("}")[2].lower() == wanted and value.strip():
            return str(value).strip()
    return _value(_index(element), wanted)


def _identifier(element: Any) -> tuple[str, str | None]:
    """(upper-case domain, value) of a ``UniqueID``: attribute or {value, domain} children."""
    domain = (_attribute(element, "domain") or "").upper()
    value = _value(_index(element), "value") if len(element) else plain_text(element)
    return domain, value


_AMA = re.compile(r"^amapracategory1")
_MONTH_DAY = re.compile(r"^--(\d{2}-\d{2})$")  # xsd:gMonthDay
_POINT_UNITS = {"", "point", "points", "moc point", "moc points"}
_REMS_FIELDS = {
    "stateofprimarypractice": "practice_state",
    "dearegistration": "dea_registration",
    "profession": "profession",
    "practicearea": "practice_area",
    "surgicalprocedures": "surgical_procedures",
    "timeinpractice": "time_in_practice",
}


def _is_ama(certification: str | None) -> bool:
    return bool(_AMA.match(re.sub(r"[^a-z0-9]", "", (certification or "").lower())))


class _Learner:
    """What a report says about its learner, shared by all of its records."""

    def __init__(self, report: ChildIndex) -> None:
        self.problem: str | None = None
        members = report.get("member", [])
        if len(members) > 1:
            self.problem = (
                f"The <{RECORD_NAMES[0]}> has {len(members)} <Member> elements; give one "
                "learner per report."
            )
        member = _index(members[0] if members else None)
        name = _index(first_child(member, "name"))
        personal = _index(first_child(member, "personalinfo"))
        self.values: dict[str, Any] = {}
        self._put("first_name", _value(name, "givenname"))
        self._put("last_name", _value(name, "familyname"))
        birth = _value(personal, "birthdate") or _value(member, "birthdate")
        if birth is not None:
            match = _MONTH_DAY.match(birth)
            self.values["birth_date"] = match.group(1) if match else birth

        # Identifiers by upper-case domain; license states in the order given.
        self.ids: dict[str, str] = {}
        self.licence_states: list[str] = []
        for element in member.get("uniqueid", []):
            domain, value = _identifier(element)
            self._identify(domain, value)
        for licence in personal.get("licensure", []) + member.get("licensure", []):
            parts = _index(licence)
            state = (_value(parts, "stateoflicensure") or "").upper()
            self._identify(state, _value(parts, "statemedicallicenseid"))
            if state and state not in self.licence_states:
                self.licence_states.append(state)
        for certification in personal.get("certification", []) + member.get("certification", []):
            parts = _index(certification)
            board = (_value(parts, "certifyingboard") or "").upper()
            self._identify(board, _value(parts, "certifyingboardid"))
        self._identify("NPI", _value(personal, "npi") or _value(member, "npi"))

        participants = report.get("participant", []) + [
            participant
            for wrapper in report.get("participants", [])
            for participant in _index(wrapper).get("participant", [])
        ]
        if len(participants) > 1 and self.problem is None:
            self.problem = (
                f"The <{RECORD_NAMES[0]}> has {len(participants)} <Participant> elements; "
                "give one learner per report."
            )
        participant = _index(participants[0] if participants else None)
        self.local_id: str | None = None
        local = first_child(participant, "localidentifier")
        if local is not None:
            self.local_id = _identifier(local)[1]
        for element_name, field_name in _REMS_FIELDS.items():
            self._put(field_name, _value(participant, element_name))

    def _put(self, name: str, value: str | None) -> None:
        if value is not None:
            self.values[name] = value

    def _identify(self, domain: str, value: str | None) -> None:
        if not domain:
            return
        if domain in US_STATES and domain not in self.licence_states:
            self.licence_states.append(domain)
        if value is not None:
            self.ids.setdefault(domain, value)

    def identity(self, recipient: str, own_ids: list[tuple[str, str | None]]) -> dict[str, str]:
        """learner_id, npi and license_state of the learner's record for `recipient`."""
        found: dict[str, str] = {}
        npi = next((value for domain, value in own_ids if domain == "NPI" and value), None)
        npi = npi or self.ids.get("NPI")
        if npi:
            found["npi"] = npi
        learner_id = next((value for domain, value in own_ids if domain != "NPI" and value), None)
        learner_id = learner_id or self.ids.get(recipient) or self.local_id
        if learner_id:
            found["learner_id"] = learner_id
        if recipient in self.licence_states:
            found["license_state"] = recipient
        elif recipient in US_STATES and self.licence_states:
            found["license_state"] = self.licence_states[0]
        return found


def report_records(report: Any) -> list[tuple[dict[str, Any], str | None]]:
    """(raw record, problem) for each completion record of one ``LearnerReport``."""
    top = _index(report)
    learner = _Learner(top)
    shared: dict[str, Any] = dict(learner.values)
    extensions = _index(first_child(top, "xtensibleinfo"))
    action = _value(extensions, "learnerrecordaction") or _value(top, "learnerrecordaction")
    if action is not None:
        shared["action"] = action
    report_activity_id = _value(extensions, "provideractivityid")

    records: list[tuple[dict[str, Any], str | None]] = []
    activities = top.get("activity", []) or [None]
    for activity in activities:
        parts = _index(activity)
        activity_values = dict(shared)
        provider_activity_id = (
            _attribute(activity, "activityID")
            or _value(parts, "provideractivityid")
            or report_activity_id
        )
        if provider_activity_id is not None:
            activity_values["provider_activity_id"] = provider_activity_id
        for module in parts.get("module", []) or [None]:
            for values in _module_records(module, learner):
                records.append(({**activity_values, **values}, learner.problem))
    return records


def _module_records(module: Any, learner: _Learner) -> list[dict[str, Any]]:
    parts = _index(module)
    common: dict[str, Any] = {}
    module_name = first_child(parts, "modulename")
    accme_id = _attribute(module_name, "moduleID") if module_name is not None else None
    accme_id = accme_id or _value(parts, "moduleid")
    if accme_id is not None:
        common["accme_activity_id"] = accme_id
    completed = _value(parts, "completeddatetime")
    if completed is not None:
        common["completion_date"] = completed

    recipients: list[dict[str, Any]] = []
    for certificate in parts.get("creditcertificate", []):
        certificate_parts = _index(certificate)
        received_element = first_child(certificate_parts, "creditreceived")
        # The CreditReceived fields, or (leniently) the same fields right in the certificate.
        received = _index(received_element) if received_element is not None else certificate_parts
        certification = _value(received, "activitycertification") or _value(
            received, "accreditingbody"
        )
        credits = _value(received, "numberofcredits")
        if _is_ama(certification):
            if credits is not None:
                common.setdefault("cme_credits", credits)
            continue
        values: dict[str, Any] = {"recipient": certification or ""}
        unit = (_value(received, "creditunit") or "").lower()
        if credits is not None:
            values["moc_points" if unit in _POINT_UNITS else "cme_credits"] = credits
        types = [
            text
            for focus in received.get("creditfocus", [])
            if (text := _value(_index(focus), "description")) is not None
        ] + [text for item in received.get("moccredittype", []) if (text := plain_text(item))]
        if types:
            values["moc_credit_types"] = types
        own_ids = [_identifier(element) for element in certificate_parts.get("uniqueid", [])]
        values.update(learner.identity(values["recipient"].strip().upper(), own_ids))
        recipients.append(values)

    if not recipients:
        # No recipient named: one record, for the validator to ask for the recipient.
        recipients.append(learner.identity("", []))
    # A recipient's own CME credits (creditUnit Credit, Hour…) win over the AMA certificate's.
    return [{**common, **values} for values in recipients]
