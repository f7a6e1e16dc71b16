# ruff: noqa: S608  (test-only SQL composed from constant fragments; values are parameters)
"""The annual data report: every cell equals independent SQL over the same data.

The expected figures come from raw SQL written here (joins and sums spelled out, the
provider reached through the activity rather than the row's own provider column), and
the headline totals are also written out by hand from the data set in
``tests/support/national_data.py``. The page, the CSV and the XLSX are checked too:
formula-like text is escaped, only staff reach them, and state-accreditor staff see only
their providers.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from pars.accounts.models import Role
from pars.datareports.data_report import DataReport, Table, data_report
from pars.testing import make_accreditor, make_member, make_user
from tests.support.national_data import (  # noqa: F401 (the fixture)
    FORMULA_SUPPORTER,
    YEAR,
    National,
    _activity,
    _support,
    national,
)

TYPES = {"accme": "ACCME-accredited", "state": "State-accredited", "joint": "Jointly accredited"}
ACCREDITED = ("provisional", "accreditation", "commendation", "probation")
WITHDRAWN = ("withdrawal_queued", "withdrawal_sent", "withdrawn")
CENT = Decimal("0.01")


def _n(value: Any) -> Any:
    """Numbers compared as exact cents (SQLite sums decimals as floats)."""
    if value is None:
        return Decimal(0).quantize(CENT)
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).quantize(CENT)
    return value


def _row(values: Any) -> tuple[Any, ...]:
    return tuple(_n(value) for value in values)


def _sql(query: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return list(cursor.fetchall())


def _where(accreditor_type: str | None, accreditor_id: int | None) -> tuple[str, list[Any]]:
    clauses, params = "", list[Any]()
    if accreditor_type:
        clauses += " AND p.accreditor_type = %s"
        params.append(accreditor_type)
    if accreditor_id:
        clauses += " AND p.recognized_accreditor_id = %s"
        params.append(accreditor_id)
    return clauses, params


def _by_label(table: Table) -> dict[Any, tuple[Any, ...]]:
    return {row[0]: _row(row[1:]) for row in table.all_rows}


def _expected_by_type(
    grouped: list[tuple[Any, ...]], width: int, accreditor_type: str | None
) -> dict[Any, tuple[Any, ...]]:
    by_type = {row[0]: _row(row[1:]) for row in grouped}
    return {
        label: by_type.get(code, _row([0] * width))
        for code, label in TYPES.items()
        if accreditor_type in (None, code)
    }


SCOPES = [(None, False), ("accme", False), ("state", False), ("joint", False), (None, True)]
SCOPE_IDS = ["all", "accme", "state", "joint", "maine-society"]


@pytest.fixture(params=SCOPES, ids=SCOPE_IDS)
def scoped(request: pytest.FixtureRequest, national: National) -> tuple[DataReport, str, list]:  # noqa: F811
    accreditor_type, maine = request.param
    accreditor_id = national.maine_id if maine else None
    report = data_report(YEAR, accreditor_type, accreditor_id=accreditor_id)
    where, params = _where(accreditor_type, accreditor_id)
    return report, where, params


def test_providers_by_type_equal_sql(scoped: tuple[DataReport, str, list]) -> None:
    report, where, params = scoped
    accredited = ", ".join(f"'{status}'" for status in ACCREDITED)
    grouped = _sql(
        f"""SELECT p.accreditor_type,
               SUM(CASE WHEN p.accreditation_status IN ({accredited}) THEN 1 ELSE 0 END),
               SUM(CASE WHEN EXISTS (SELECT 1 FROM activities_activity a
                                     WHERE a.provider_id = p.id AND a.reporting_year = %s)
                   THEN 1 ELSE 0 END),
               SUM(CASE WHEN EXISTS (SELECT 1 FROM reporting_annualreport r
                                     JOIN reporting_reportingyear y ON y.id = r.reporting_year_id
                                     WHERE r.provider_id = p.id AND y.year = %s
                                       AND r.attested_at IS NOT NULL)
                   THEN 1 ELSE 0 END)
            FROM providers_provider p WHERE 1 = 1 {where} GROUP BY p.accreditor_type""",
        [YEAR, YEAR, *params],
    )
    expected = _expected_by_type(grouped, 3, report.accreditor_type)
    expected["Total"] = tuple(sum(column) for column in zip(*expected.values(), strict=True))
    assert _by_label(report.providers_by_type) == expected


def _activity_sql(group: str, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
    select = f"{group}, " if group else ""
    group_by = f"GROUP BY {group}" if group else ""
    return _sql(
        f"""SELECT {select} COUNT(*), SUM(a.hours_of_instruction), SUM(a.ama_credits),
                   SUM(a.physician_learners), SUM(a.other_learners)
            FROM activities_activity a JOIN providers_provider p ON p.id = a.provider_id
            WHERE a.reporting_year = %s {where} {group_by}""",
        [YEAR, *params],
    )


def test_activities_by_type_equal_sql(scoped: tuple[DataReport, str, list]) -> None:
    report, where, params = scoped
    from pars.activities.dictionary import FORMATS

    grouped = {row[0]: _row(row[1:]) for row in _activity_sql("a.activity_format", where, params)}
    expected = {label: grouped.get(code, _row([0] * 5)) for code, label in FORMATS.items()}
    expected["Total"] = _row(_activity_sql("", where, params)[0])
    assert _by_label(report.activities_by_type) == expected
    assert [row[0] for row in report.activities_by_type.rows] == list(FORMATS.values())


def test_activities_by_provider_type_equal_sql(scoped: tuple[DataReport, str, list]) -> None:
    report, where, params = scoped
    expected = _expected_by_type(
        _activity_sql("p.accreditor_type", where, params), 5, report.accreditor_type
    )
    expected["Total"] = _row(_activity_sql("", where, params)[0])
    assert _by_label(report.activities_by_provider_type) == expected


def test_income_by_source_equals_sql(scoped: tuple[DataReport, str, list]) -> None:
    report, where, params = scoped
    typed = {
        row[0]: _row(row[1:])
        for row in _sql(
            f"""SELECT p.accreditor_type, SUM(r.advertising_exhibit_income),
                       SUM(r.registration_fees), SUM(r.government_grants),
                       SUM(r.private_donations)
                FROM reporting_annualreport r
                JOIN reporting_reportingyear y ON y.id = r.reporting_year_id
                JOIN providers_provider p ON p.id = r.provider_id
                WHERE y.year = %s {where} GROUP BY p.accreditor_type""",
            [YEAR, *params],
        )
    }
    commercial = {
        row[0]: _n(row[1])
        for row in _sql(
            f"""SELECT p.accreditor_type, SUM(s.monetary_amount)
                FROM activities_commercialsupport s
                JOIN activities_activity a ON a.id = s.activity_id
                JOIN providers_provider p ON p.id = a.provider_id
                WHERE a.reporting_year = %s {where} GROUP BY p.accreditor_type""",
            [YEAR, *params],
        )
    }
    expected = {}
    for code, label in TYPES.items():
        if report.accreditor_type not in (None, code):
            continue
        amounts = (commercial.get(code, _n(0)), *typed.get(code, _row([0] * 4)))
        expected[label] = (*amounts, sum(amounts))
    expected["Total"] = tuple(sum(column) for column in zip(*expected.values(), strict=True))
    assert _by_label(report.income_by_source) == expected


def _support_sql(group: str, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
    select = f"{group}, " if group else ""
    group_by = f"GROUP BY {group}" if group else ""
    return _sql(
        f"""SELECT {select} SUM(s.monetary_amount),
                   SUM(CASE WHEN s.in_kind THEN 1 ELSE 0 END),
                   COUNT(DISTINCT s.source), COUNT(DISTINCT s.activity_id)
            FROM activities_commercialsupport s
            JOIN activities_activity a ON a.id = s.activity_id
            JOIN providers_provider p ON p.id = a.provider_id
            WHERE a.reporting_year = %s {where} {group_by}""",
        [YEAR, *params],
    )


def test_commercial_support_equals_sql(scoped: tuple[DataReport, str, list]) -> None:
    report, where, params = scoped
    expected = _expected_by_type(
        _support_sql("p.accreditor_type", where, params), 4, report.accreditor_type
    )
    # Distinct supporters are not additive across types: the total is its own query.
    expected["Total"] = _row(_support_sql("", where, params)[0])
    assert _by_label(report.commercial_support) == expected


def test_supporters_equal_sql(scoped: tuple[DataReport, str, list]) -> None:
    report, where, params = scoped
    rows = _sql(
        f"""SELECT s.source, COUNT(DISTINCT s.activity_id), SUM(s.monetary_amount),
                   SUM(CASE WHEN s.in_kind THEN 1 ELSE 0 END)
            FROM activities_commercialsupport s
            JOIN activities_activity a ON a.id = s.activity_id
            JOIN providers_provider p ON p.id = a.provider_id
            WHERE a.reporting_year = %s {where} GROUP BY s.source""",
        [YEAR, *params],
    )
    expected = sorted((_row(row) for row in rows), key=lambda row: (-row[2], row[0]))
    assert [_row(row) for row in report.supporters.rows] == expected


def test_participation_equals_sql(scoped: tuple[DataReport, str, list]) -> None:
    report, where, params = scoped
    withdrawn = ", ".join(f"'{status}'" for status in WITHDRAWN)
    registered = dict(
        _sql(
            f"""SELECT g.recipient_id, COUNT(DISTINCT g.activity_id)
                FROM learners_activityregistration g
                JOIN activities_activity a ON a.id = g.activity_id
                JOIN providers_provider p ON p.id = a.provider_id
                WHERE a.reporting_year = %s {where} GROUP BY g.recipient_id""",
            [YEAR, *params],
        )
    )
    completion_columns = f"""
        SUM(CASE WHEN c.status NOT IN ({withdrawn}) THEN 1 ELSE 0 END),
        SUM(CASE WHEN c.status = 'accepted' THEN 1 ELSE 0 END),
        SUM(CASE WHEN c.status IN ('queued', 'sent') THEN 1 ELSE 0 END),
        SUM(CASE WHEN c.status = 'rejected' THEN 1 ELSE 0 END),
        SUM(CASE WHEN c.status = 'held' THEN 1 ELSE 0 END),
        SUM(CASE WHEN c.status IN ({withdrawn}) THEN 1 ELSE 0 END)"""
    completions_from = f"""FROM learners_learnercompletion c
        JOIN activities_activity a ON a.id = c.activity_id
        JOIN providers_provider p ON p.id = a.provider_id
        WHERE a.reporting_year = %s {where}"""
    completed = {
        row[0]: _row(row[1:])
        for row in _sql(
            f"SELECT c.recipient_id, {completion_columns} {completions_from} "
            "GROUP BY c.recipient_id",
            [YEAR, *params],
        )
    }
    expected = {
        f"{code}: {name}": (_n(registered.get(pk, 0)), *completed.get(pk, _row([0] * 6)))
        for pk, code, name in _sql(
            "SELECT id, code, name FROM learners_recipient ORDER BY sort_order, code", []
        )
    }
    total_registered = _sql(
        f"""SELECT COUNT(DISTINCT g.activity_id) FROM learners_activityregistration g
            JOIN activities_activity a ON a.id = g.activity_id
            JOIN providers_provider p ON p.id = a.provider_id
            WHERE a.reporting_year = %s {where}""",
        [YEAR, *params],
    )[0][0]
    total = _sql(f"SELECT {completion_columns} {completions_from}", [YEAR, *params])[0]
    expected["Total"] = (_n(total_registered), *_row(total))
    actual = {row[0]: _row((row[2], *row[3:])) for row in report.participation.all_rows}
    assert actual == expected


def test_headline_figures_by_hand(national: National) -> None:  # noqa: F811
    """The same figures, added up by hand from the data set."""
    report = data_report(YEAR)
    assert report.providers_by_type.total == ("Total", 6, 7, 3)
    activities = report.activities_by_provider_type.column
    assert activities("Activities")["Total"] == 8
    assert activities("Hours of instruction")["Total"] == Decimal("27.00")
    assert activities("Physician interactions")["Total"] == 828
    assert activities("Other learner interactions")["Total"] == 396
    assert activities("Activities") == {
        "ACCME-accredited": 3,
        "State-accredited": 3,
        "Jointly accredited": 2,
        "Total": 8,
    }
    assert report.activities_by_type.column("Activities")["Journal-based CME"] == 1
    assert report.commercial_support.total == ("Total", 19500, 2, 5, 5)
    income = dict(zip(report.income_by_source.columns, report.income_by_source.total, strict=True))
    assert income == {
        "Provider type": "Total",
        "Commercial support": Decimal(19500),
        "Advertising and exhibits": Decimal("6250.50"),
        "Registration fees": Decimal("69200.10"),
        "Government grants": Decimal("12000"),
        "Private donations": Decimal("725.25"),
        "Total income": Decimal("107675.85"),
    }
    participation = {row[0].split(":")[0]: row[2:] for row in report.participation.all_rows}
    assert participation["REMS"] == (3, 6, 3, 2, 0, 1, 1)
    assert participation["ABIM"] == (2, 7, 3, 2, 1, 1, 0)
    assert participation["ABP"] == (1, 1, 1, 0, 0, 0, 1)
    assert participation["ME"] == (1, 1, 1, 0, 0, 0, 0)
    assert participation["Total"] == (5, 15, 8, 4, 1, 2, 2)

    accme = data_report(YEAR, "accme")
    assert accme.activities_by_provider_type.total[1] == 3
    assert accme.income_by_source.total[-1] == Decimal("31650.75")
    assert [row[0] for row in accme.income_by_source.rows] == ["ACCME-accredited"]
    maine = data_report(YEAR, accreditor_id=national.maine_id)
    assert maine.activities_by_provider_type.total[1:3] == (2, Decimal("3.75"))


def test_unknown_accreditor_type_is_refused(db: None) -> None:
    with pytest.raises(ValueError, match="Unknown accreditor type"):
        data_report(YEAR, "nonsense")


def test_the_query_count_does_not_grow_with_the_data(national: National) -> None:  # noqa: F811
    """Aggregates run in the database: more rows, the same queries."""
    with CaptureQueriesContext(connection) as before:
        data_report(YEAR)
    provider = national.providers["accme2"]
    for number in range(30):
        activity = _activity(provider, f"MORE-{number}", activity_format="enduring")
        _support(activity, 1, f"Supporter {number}", number)
    with CaptureQueriesContext(connection) as after:
        data_report(YEAR)
    assert len(after.captured_queries) == len(before.captured_queries) <= 20


# --- The page and the downloads -------------------------------------------------------


def _staff_client(client_as: Any, **fields: Any) -> Any:
    return client_as(make_user(is_staff=True, **fields))


def test_staff_see_tables_and_inline_svg_charts(national: National, client_as: Any) -> None:  # noqa: F811
    response = _staff_client(client_as).get(f"/staff/data-report/{YEAR}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") >= 5
    for key in ("providers", "activities_by_type", "income", "participation", "supporters"):
        assert f'id="{key}-table"' in html
    # No script from elsewhere: pygal's tooltips script is not referenced.
    assert "kozea" not in html
    assert "<script" not in html.split("</header>", 1)[1]
    assert "19500" in html
    assert "107675.85" in html
    # The formula-like supporter is shown as text (HTML-escaped), not run.
    assert "=cmd|&#x27; /C calc&#x27;!A0" in html


def test_the_type_filter(national: National, client_as: Any) -> None:  # noqa: F811
    client = _staff_client(client_as)
    response = client.get(f"/staff/data-report/{YEAR}/?type=joint")
    report = response.context["report"]
    assert report.accreditor_type == "joint"
    assert report.activities_by_provider_type.total[1] == 2
    assert 'href="/staff/data-report/2026.csv?type=joint"' in response.content.decode()
    assert client.get(f"/staff/data-report/{YEAR}/?type=bogus").status_code == 400
    assert client.get("/staff/data-report/1999/").status_code == 404


def test_the_current_year_redirect(national: National, client_as: Any) -> None:  # noqa: F811
    response = _staff_client(client_as).get("/staff/data-report/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/data-report/20")


def _csv(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_csv_download_escapes_formulas(national: National, client_as: Any) -> None:  # noqa: F811
    response = _staff_client(client_as).get(f"/staff/data-report/{YEAR}.csv?type=accme")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="data-report-2026-accme.csv"'
    rows = _csv(response)
    cells = [cell for row in rows for cell in row]
    assert "'" + FORMULA_SUPPORTER in cells
    assert FORMULA_SUPPORTER not in cells
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]
    assert ["Commercial supporters"] in rows
    assert ["Total", "7500.00", "1000.50", "23000.00", "0.00", "150.25", "31650.75"] in rows


def test_xlsx_download_escapes_formulas(national: National, client_as: Any) -> None:  # noqa: F811
    response = _staff_client(client_as).get(f"/staff/data-report/{YEAR}.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert "Commercial supporters" in workbook.sheetnames
    assert workbook.sheetnames == [
        "About",
        "Providers by type",
        "Activities by type",
        "Activities by provider type",
        "Income by source",
        "Commercial support",
        "Commercial supporters",
        "MOC REMS participation",
    ]
    values = [
        cell.value for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row
    ]
    assert "'" + FORMULA_SUPPORTER in values
    assert not [v for v in values if isinstance(v, str) and v.startswith(("=", "+", "-", "@"))]
    supporters = workbook["Commercial supporters"]
    assert [cell.value for cell in supporters[1]] == [
        "Commercial supporter",
        "Activities supported",
        "Monetary support (US dollars)",
        "In-kind supports",
    ]
    assert [cell.value for cell in supporters[2]] == ["Joint Sponsor", 1, 10000, 0]


@pytest.mark.parametrize(
    "url",
    [
        "/staff/data-report/",
        f"/staff/data-report/{YEAR}/",
        f"/staff/data-report/{YEAR}.csv",
        f"/staff/data-report/{YEAR}.xlsx",
    ],
)
def test_only_staff_reach_the_data_report(
    national: National,  # noqa: F811
    client_as: Any,
    client: Any,
    url: str,
) -> None:
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    member = make_member(national.providers["accme1"], Role.ADMIN)
    assert client_as(member).get(url).status_code == 404


def test_state_accreditor_staff_see_only_their_providers(
    national: National,  # noqa: F811
    client_as: Any,
) -> None:
    client = _staff_client(client_as, staff_accreditor=make_accreditor("ME"))
    response = client.get(f"/staff/data-report/{YEAR}/")
    assert response.status_code == 200
    report = response.context["report"]
    assert report.activities_by_provider_type.total[1] == 2  # S1 and S2 only
    assert report.commercial_support.total == ("Total", 1200, 0, 1, 1)
    assert "ME Medical Society" in response.content.decode()
    rows = _csv(client.get(f"/staff/data-report/{YEAR}.csv"))
    cells = [cell for row in rows for cell in row]
    assert "Maine Devices" in cells
    assert "Example Pharma" not in cells
