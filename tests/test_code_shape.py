"""Code shape (issue 12): no function in pars/ over 80 lines, no module over 900.

Long functions hide several steps behind one name; long modules several concerns behind one
file. Migrations are generated and exempt.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

PARS = Path(__file__).resolve().parent.parent / "pars"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 900


def _sources() -> Iterator[Path]:
    for path in sorted(PARS.rglob("*.py")):
        if "migrations" in path.relative_to(PARS).parts:
            continue
        yield path


def _long_functions(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            # lineno is the ``def`` line: decorators are not counted.
            assert node.end_lineno is not None  # parsed from source: always set
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                yield f"{path.relative_to(PARS.parent)}:{node.lineno} {node.name} ({length} lines)"


def test_no_function_is_over_80_lines() -> None:
    long = [entry for path in _sources() for entry in _long_functions(path)]
    assert long == [], "functions over 80 lines; split them into named steps:\n" + "\n".join(long)


def test_no_module_is_over_900_lines() -> None:
    long = []
    for path in _sources():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(PARS.parent)} ({lines} lines)")
    assert long == [], "modules over 900 lines; split them by concern:\n" + "\n".join(long)
