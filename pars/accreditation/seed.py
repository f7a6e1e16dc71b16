"""The default self-studies, seeded by a data migration; staff edit them in the admin.

The sections follow the accreditor's core criteria (mission, educational needs, designed to
change, analyzes change, independence, commercial support, educational planning, evaluation
and improvement). :func:`seed_self_studies` takes an app registry so the migration can call
it with its historical models; tests whose database was flushed call it again.
"""

from __future__ import annotations

from typing import Any

YES_NO = "yes_no"
TEXT = "text"
CHOICE = "choice"

# (code, title, guidance, questions [(kind, text, choices)], attachments [(name, description)])
CORE_SECTIONS: list[tuple[str, str, str, list[tuple[str, str, str]], list[tuple[str, str]]]] = [
    (
        "C1",
        "Mission",
        "The provider has a CME mission statement that includes expected results articulated "
        "in terms of changes in competence, performance or patient outcomes.",
        [
            (TEXT, "Quote your CME mission statement and its expected results.", ""),
            (YES_NO, "Does the mission state expected results in terms of change?", ""),
        ],
        [("CME mission statement", "The statement as approved by your governing body.")],
    ),
    (
        "C2",
        "Educational needs",
        "The provider incorporates into its activities the educational needs (knowledge, "
        "competence or performance) that underlie the professional practice gaps of learners.",
        [(TEXT, "Describe how you identify professional practice gaps and educational needs.", "")],
        [],
    ),
    (
        "C3",
        "Designed to change",
        "The provider generates activities designed to change competence, performance or "
        "patient outcomes as described in its mission statement.",
        [
            (
                CHOICE,
                "Which change do your activities most often aim for?",
                "Competence\nPerformance\nPatient outcomes",
            ),
            (TEXT, "Explain how activities are designed to change that result.", ""),
        ],
        [],
    ),
    (
        "C4",
        "Analyzes change",
        "The provider analyzes changes in learners achieved as a result of its activities.",
        [(TEXT, "Describe how you measure and analyze change in learners.", "")],
        [],
    ),
    (
        "C5",
        "Independence",
        "The provider ensures that its activities are independent of ineligible companies: "
        "it identifies, mitigates and discloses relevant financial relationships.",
        [
            (TEXT, "Describe your process to identify and mitigate financial relationships.", ""),
            (YES_NO, "Do all planners, faculty and others in control of content disclose?", ""),
        ],
        [("Disclosure form", "The form used to collect financial relationships.")],
    ),
    (
        "C6",
        "Commercial support",
        "Commercial support is managed according to the Standards for Integrity and "
        "Independence; written agreements are in place.",
        [
            (YES_NO, "Did you receive commercial support during the term?", ""),
            (TEXT, "Describe how you manage commercial support and written agreements.", ""),
        ],
        [],
    ),
    (
        "C7",
        "Educational planning",
        "Activities are planned with formats appropriate to the setting, objectives and "
        "desired results, and address competencies.",
        [(TEXT, "Describe how you choose educational formats and competencies.", "")],
        [],
    ),
    (
        "C8",
        "Evaluation and improvement",
        "The provider analyzes the degree to which its mission has been met and identifies "
        "and implements improvements.",
        [(TEXT, "Summarize your program-based analysis and the improvements you made.", "")],
        [("Program analysis", "Your most recent program-based analysis.")],
    ),
]

ORGANISATION_SECTION = (
    "O1",
    "Organizational profile",
    "Who the organization is, its structure and the resources of its CME program.",
    [
        (TEXT, "Describe your organization and the structure of its CME program.", ""),
        (
            CHOICE,
            "Organization type",
            "Hospital or health system\nMedical school\nSpecialty society\nPublishing or "
            "education company\nGovernment or military\nOther",
        ),
    ],
    [("Organizational chart", "The chart showing where the CME program sits.")],
)

PROGRESS_SECTION = (
    "P1",
    "Progress on noncompliance",
    "For each criterion found in noncompliance, describe the changes made and give evidence.",
    [
        (TEXT, "Which criteria were found in noncompliance, and what did you change?", ""),
        (YES_NO, "Are all the changes in place in your current activities?", ""),
    ],
    [("Evidence of the changes", "Policies, forms or records showing the change in practice.")],
)

TEMPLATES: list[dict[str, Any]] = [
    {
        "case_type": "initial",
        "name": "Initial accreditation self-study",
        "pip_activities": 2,
        "sections": [ORGANISATION_SECTION, *CORE_SECTIONS],
    },
    {
        "case_type": "reaccreditation",
        "name": "Reaccreditation self-study",
        "pip_activities": 3,
        "sections": [ORGANISATION_SECTION, *CORE_SECTIONS],
    },
    {
        "case_type": "progress_report",
        "name": "Progress report",
        "pip_activities": 0,
        "sections": [PROGRESS_SECTION],
    },
]


def seed_self_studies(apps: Any, schema_editor: Any = None) -> None:
    """Add the default templates (one per case type) unless that case type has one."""
    template_model = apps.get_model("accreditation", "SelfStudyTemplate")
    section_model = apps.get_model("accreditation", "SelfStudySection")
    question_model = apps.get_model("accreditation", "Question")
    attachment_model = apps.get_model("accreditation", "RequiredAttachment")
    for spec in TEMPLATES:
        if template_model.objects.filter(case_type=spec["case_type"]).exists():
            continue
        template = template_model.objects.create(
            case_type=spec["case_type"], name=spec["name"], pip_activities=spec["pip_activities"]
        )
        for order, (code, title, guidance, questions, attachments) in enumerate(spec["sections"]):
            section = section_model.objects.create(
                template=template, code=code, title=title, guidance=guidance, order=order
            )
            for q_order, (kind, text, choices) in enumerate(questions):
                question_model.objects.create(
                    section=section, kind=kind, text=text, choices=choices, order=q_order
                )
            for a_order, (name, description) in enumerate(attachments):
                attachment_model.objects.create(
                    section=section, name=name, description=description, order=a_order
                )
