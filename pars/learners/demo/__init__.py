"""Demo registries for the registry simulator.

For ``load_demo``: make learners whose identifiers fit a recipient's form, report
completions for them, and put them (all but a few, so that some records end up *held*)
in the simulator's registry::

    from pars.learners.demo import demo_learners, seed_registry

    learners = demo_learners("ABIM", 20)           # dicts usable as learner rows
    seed_registry("ABIM", learners[:-2])            # the last two will be held

``write_registry_file(path, learners)`` writes the same learners as a registry file for
``manage.py load_registry``; ``SAMPLE_REGISTRY`` is a small example file (ABIM).
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pars.learners.connectors.simulator import REGISTRY_COLUMNS, add_to_registry
from pars.learners.models import Recipient, RecipientKind
from pars.learners.validation import rules_from_recipient

SAMPLE_REGISTRY = Path(__file__).with_name("abim_registry.tsv")

_FIRST = ["Ada", "Grace", "Alan", "Mary", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia"]
_LAST = ["Lovelace", "Hopper", "Turing", "Jackson", "Dijkstra", "Liskov", "Knuth", "Allen"]


def _identifier(recipient: Recipient, number: int) -> str:
    rules = rules_from_recipient(recipient)
    digits = re.fullmatch(r"\\d\{(\d+)(?:,(\d+))?\}", recipient.identifier_pattern or "")
    if digits:
        width = int(digits.group(1))
        candidate = str(10 ** (width - 1) + number)[-width:].rjust(width, "1")
    elif recipient.kind == RecipientKind.STATE_BOARD:
        candidate = f"MD{number:06d}"
    else:
        candidate = f"L-{number:06d}"
    return candidate if rules.identifier_matches(candidate) else ""


def demo_learners(code: str, count: int, *, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` made-up learners for a recipient, the same for the same seed."""
    recipient = Recipient.objects.get(code=code)
    chooser = random.Random(f"{seed}-{code}")  # noqa: S311 (made-up demo data)
    learners = []
    for number in range(1, count + 1):
        learners.append(
            {
                "first_name": chooser.choice(_FIRST),
                "last_name": f"{chooser.choice(_LAST)}{'' if number < 10 else number}",
                "birth_date": f"{chooser.randint(1, 12):02d}-{chooser.randint(1, 28):02d}",
                "learner_id": _identifier(recipient, 1000 + number * 7),
                "license_state": recipient.state,
            }
        )
    return learners


def _registry_row(learner: Mapping[str, Any]) -> dict[str, Any]:
    month, day = (int(part) for part in str(learner["birth_date"]).split("-"))
    return {
        "learner_id": learner.get("learner_id", ""),
        "npi": learner.get("npi", ""),
        "first_name": learner["first_name"],
        "last_name": learner["last_name"],
        "birth_month": month,
        "birth_day": day,
        "license_state": learner.get("license_state", ""),
    }


def seed_registry(
    code: str, learners: Iterable[Mapping[str, Any]], *, replace: bool = False
) -> int:
    """Put these learners (``demo_learners`` dicts) in the simulator's registry of ``code``."""
    return add_to_registry(code, [_registry_row(learner) for learner in learners], replace=replace)


def write_registry_file(path: str | Path, learners: Iterable[Mapping[str, Any]]) -> None:
    """Write learners as a tab-separated registry file (the format load_registry reads)."""
    with Path(path).open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
        writer.writerow(REGISTRY_COLUMNS)
        for learner in learners:
            writer.writerow([learner.get(name, "") or "" for name in REGISTRY_COLUMNS])
