"""Regenerate ``data/golden_current.xlsx``: ``.venv/bin/python -m tests.activities.make_golden``.

The workbook holds the same activities as ``data/golden_current.tsv`` (which is
written by hand), but as a user filling in the Excel template would leave them:
dates as Excel dates, numbers as numbers, one Yes/No as a real boolean, the ACCME
Activity ID as a number. ``test_parse_xlsx`` checks that both files validate to the
same activities. The output is byte-for-byte reproducible (fixed zip timestamps and
document properties), so it can be committed.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from pars.activities.parsers.layouts import CURRENT

OUTPUT = Path(__file__).parent / "data" / "golden_current.xlsx"
FIXED_TIME = datetime.datetime(2025, 1, 1, 0, 0, 0)  # noqa: DTZ001 (xlsx holds no zone)

COURSE = {
    "Action": "Add",
    "Status": "Closed",
    "Provider Activity ID": "CHI-2025-CARD",
    "Activity Title": 'Cardiology Update 2025: "Heart Failure" in Practice',
    "Activity Format": "Course",
    "Delivery Method": "In-Person",
    "Start Date": datetime.date(2025, 3, 14),
    "End Date": datetime.date(2025, 3, 16),
    "Reporting Year": 2025,
    "Description": "Three-day update on heart failure management.\n"
    "Includes hands-on echocardiography workshops.",
    "City": "Chicago",
    "State": "IL",
    "Country": "USA",
    "Providership": "Direct",
    "AMA PRA Category 1 Credits": 12.5,
    "# of Physicians": 240,
    "# of Other Learners": 35,
    "Outcome Measures": "Learner Competence:Objective; Learner Performance:Subjective",
    "Commercial Support Received?": "Yes",
    "List on CME Passport?": "Yes",
    "Fee for Participation": "Yes",
    "Registration": "Open to all",
    "Activity URL": "https://cme.example.org/chi-2025-card",
    "MIPS Improvement Activity?": "No",
    "Supporter 1 Source": "Acme Pharmaceuticals",
    "Supporter 1 Monetary Amount": 25000,
    "Supporter 1 In-Kind?": "No",
    "Supporter 2 Source": "Northshore Medical Devices",
    "Supporter 2 In-Kind?": "Yes",
    "Supporter 2 In-Kind Description": "Loaned ultrasound machines for the workshops",
}
ENDURING = {
    "Status": "Active",
    "Provider Activity ID": "EM-2025-SEPSIS",
    "ACCME Activity ID": 123456789,
    "Activity Title": "Sepsis Recognition: Online Modules",
    "Activity Format": "Enduring Material",
    "Delivery Method": "Online",
    "Start Date": datetime.date(2025, 1, 15),
    "End Date": datetime.datetime(2026, 12, 31, 0, 0),  # noqa: DTZ001
    "Reporting Year": 2025,
    "Description": "Self-paced modules on early sepsis recognition.",
    "Providership": "Direct",
    "AMA PRA Category 1 Credits": 2,
    "# of Physicians": 1200,
    "# of Other Learners": 310,
    "Outcome Measures": "Learner Knowledge:Objective",
    "Commercial Support Received?": "No",
    "List on CME Passport?": False,
    "Activity URL": "https://learn.example.org/sepsis",
    "MIPS Improvement Activity?": True,
}
JOINT_RSS = {
    "Action": "Add",
    "Provider Activity ID": "RSS-2025-GRAND",
    "Activity Title": "Cardiology Grand Rounds 2025",
    "Activity Format": "Regularly Scheduled Series",
    "Delivery Method": "In-Person; Live-Streamed",
    "Start Date": datetime.date(2025, 1, 8),
    "End Date": datetime.date(2025, 12, 17),
    "Description": "Weekly case-based grand rounds, jointly provided.",
    "City": "Boston",
    "State": "MA",
    "Country": "USA",
    "Providership": "Joint",
    "Joint Provider(s)": "Boston Heart Associates; New England Cardiology Society",
    "AMA PRA Category 1 Credits": 24,
    "# of Physicians": 1040,
    "# of Other Learners": 260,
    "Outcome Measures": "Learner Competence:Subjective",
    "Commercial Support Received?": "No",
    "List on CME Passport?": "Yes",
    "Fee for Participation": "No, it's free",
    "Registration": "Limited",
    "Activity URL": "https://cme.example.org/grand-rounds",
    "MIPS Improvement Activity?": "No",
}
JOURNAL = {
    "Status": "Draft",
    "Provider Activity ID": "JN-2025-014",
    "Activity Title": "Journal CME: Anticoagulation in Atrial Fibrillation",
    "Activity Format": "Journal-based CME",
    "Start Date": datetime.date(2025, 2, 1),
    "End Date": datetime.date(2026, 1, 31),
    "Providership": "Direct",
    "AMA PRA Category 1 Credits": 1,
    "# of Physicians": 85,
    "# of Other Learners": 0,
    "Commercial Support Received?": "No",
    "List on CME Passport?": "No",
}
DELETE = {"Action": "Delete", "Provider Activity ID": "CHI-2024-OLD"}
ROWS: list[dict[str, Any]] = [COURSE, ENDURING, JOINT_RSS, JOURNAL, DELETE]


def build() -> bytes:
    header = CURRENT.headers(supporters=3)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Activities"
    sheet.append(header)
    for values in ROWS:
        unknown = set(values) - set(header)
        assert not unknown, unknown
        sheet.append([values.get(column) for column in header])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, datetime.date):
                cell.number_format = "mm/dd/yyyy"
    workbook.properties.creator = "PARS tests"
    workbook.properties.created = FIXED_TIME
    raw = io.BytesIO()
    workbook.save(raw)
    return _reproducible(raw.getvalue())


def _reproducible(data: bytes) -> bytes:
    """The same zip with fixed member timestamps and document dates."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, content
                )
            target.writestr(
                zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6]),
                content,
                compress_type=zipfile.ZIP_DEFLATED,
            )
    return out.getvalue()


def main() -> None:
    OUTPUT.write_bytes(build())
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
