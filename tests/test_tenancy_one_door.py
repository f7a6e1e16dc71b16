"""Tenancy is a rule: provider rows are read only through ProviderAccess.records.

The route walker proves no page leaks today; this keeps tomorrow's code from reading a
provider's rows with a bare ``Model.objects.filter(provider=…)`` that no review notices.
Creating a row for a provider (``create``/``get_or_create`` with ``provider=``) is not a
read and stays allowed; staff-wide queries select providers through
``providers_visible_to`` (``provider__in=``), not one provider.
"""

from __future__ import annotations

import ast
from pathlib import Path

PARS = Path(__file__).resolve().parent.parent / "pars"
READS = {"filter", "get", "exclude"}
MANAGERS = {"objects", "_default_manager"}
PROVIDER_KEYWORDS = {"provider", "provider_id"}
THE_DOOR = PARS / "accounts" / "access.py"


def bare_provider_reads(source: str) -> list[str]:
    """Each ``<Model>.objects.<read>(provider=…)`` in this source, as ``line: call``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        manager = node.func.value
        if node.func.attr not in READS or not (
            isinstance(manager, ast.Attribute) and manager.attr in MANAGERS
        ):
            continue
        if ast.unparse(manager.value) == "Provider":  # the providers table itself
            continue
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg not in PROVIDER_KEYWORDS:
                continue
            if isinstance(value, ast.Call) and ast.unparse(value.func).endswith("OuterRef"):
                continue  # a subquery per provider row of a staff-wide query
            found.append(f"{node.lineno}: {ast.unparse(node)[:90]}")
    return found


def test_the_guard_sees_a_bare_read_and_leaves_the_door_and_creations_alone() -> None:
    planted = (
        "a = Activity.objects.filter(provider=provider, reporting_year=2025)\n"
        "b = Upload.objects.get(provider_id=upload.provider_id, pk=1)\n"
        "c = access.records(Activity).filter(reporting_year=2025)\n"
        "d = Membership.objects.get_or_create(user=user, provider=provider)\n"
        "e = Provider.objects.filter(provider_id='0001234')\n"
        "f = AnnualReport.objects.filter(provider=OuterRef('pk'))\n"
    )
    assert [line.split(":")[0] for line in bare_provider_reads(planted)] == ["1", "2"]


def test_provider_rows_are_read_through_the_one_door() -> None:
    offenders = {
        str(path.relative_to(PARS.parent)): reads
        for path in sorted(PARS.rglob("*.py"))
        if "migrations" not in path.parts and path != THE_DOOR
        for reads in [bare_provider_reads(path.read_text(encoding="utf-8"))]
        if reads
    }
    assert offenders == {}
