"""Links inside the docs lead to a heading: a table of contents that points nowhere
leaves an integrator or an operator scrolling."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\]\((?P<page>[^)\s#]*)#(?P<anchor>[^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def slug(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    text = re.sub(r"`|\*\*|__|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        anchor, n = base, 0
        while anchor in found:  # a repeated heading gets -1, -2, …
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def test_slugs_follow_the_renderers() -> None:
    assert slug("Rule catalog") == "rule-catalog"
    assert slug("12. Scale-out: several machines") == "12-scale-out-several-machines"
    assert slug("`make bench` figures (2026)") == "make-bench-figures-2026"


def test_every_anchor_link_in_the_docs_finds_its_heading() -> None:
    broken = []
    for page in PAGES:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for link in LINK.finditer(text):
            target = (page.parent / link["page"]).resolve() if link["page"] else page
            if target.suffix != ".md" or not target.exists():
                continue
            if link["anchor"] not in anchors(target):
                broken.append(f"{page.relative_to(ROOT)} → {link.group(0)}")
    assert broken == []
