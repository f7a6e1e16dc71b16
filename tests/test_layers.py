"""The layering of the apps is checked, and the check catches an upward import.

``make check`` runs ``lint-imports`` with the contracts in pyproject.toml; these tests run
the same command on the real tree (it passes) and on a copy with one planted upward import
(it fails and names the import).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils.module_loading import import_string

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # A fresh process: this one has imported the real `pars`, which the copy must not find.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(  # noqa: S603 - our own venv's script, fixed arguments
        [LINT_IMPORTS, "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_tree_keeps_the_layers() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        # A lower app reaching up to a higher one.
        ("pars/activities/planted.py", "import pars.learners.models", "Apps depend downwards only"),
        # pars.lib reaching into an app, even one at the bottom.
        ("pars/lib/planted.py", "from pars.providers import models", "pars.lib imports no app"),
    ],
)
def test_a_planted_upward_import_breaks_the_check(
    tmp_path: Path, module: str, planted: str, contract: str
) -> None:
    shutil.copytree(
        ROOT / "pars", tmp_path / "pars", ignore=shutil.ignore_patterns("__pycache__", "static")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / module).write_text(f'"""Planted by tests/test_layers.py."""\n\n{planted}\n')

    result = _lint_imports(tmp_path)

    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout
    planted_module = module.removesuffix(".py").replace("/", ".")
    assert f"{planted_module} -> " in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("old_path", "new_path"),
    [
        ("pars.learners.tasks.deliver_task", "pars.learners.delivery.deliver_task"),
        ("pars.learners.tasks.collect_results_task", "pars.learners.delivery.collect_results_task"),
        ("pars.learners.tasks.release_held_task", "pars.learners.delivery.release_held_task"),
        ("pars.learners.tasks.send_webhook_task", "pars.learners.webhooks.send_webhook_task"),
        (
            "pars.datareports.tasks.generate_research_export_task",
            "pars.datareports.research_services.generate_research_export_task",
        ),
    ],
)
def test_tasks_sit_beside_their_work_and_old_queued_paths_still_run(
    old_path: str, new_path: str
) -> None:
    # A worker finds a queued task by its path: rows queued before the move name the old one.
    task = import_string(old_path)
    assert task is import_string(new_path)
    assert task.module_path == new_path
