"""Charts rendered on the server by pygal as inline SVG: one style for every page.

No script is referenced or embedded (pygal's tooltips script would come from a CDN;
its inline config script is dropped), so the charts need neither JavaScript nor the
internet. pygal escapes every label it writes into the SVG. Each chart on a page has
its numbers next to it in a table (:class:`CountChart`), for screen readers and print.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from lxml import etree  # type: ignore[import-untyped]
from pygal.style import Style  # type: ignore[import-untyped]

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    font_family="system-ui, sans-serif",
    colors=("#1f6feb", "#d4761c", "#2e9e5b", "#a347ba", "#c23b3b", "#6b7280"),
    title_font_size=18,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=12,
)

CONFIG: dict[str, Any] = {
    "style": STYLE,
    "js": [],  # no tooltips script: nothing is loaded from elsewhere
    "disable_xml_declaration": True,
    "width": 800,
    "height": 380,
    "print_values": False,
    "legend_at_bottom": True,
    "truncate_legend": 40,
    "truncate_label": 30,
}


def render_svg(chart: Any) -> SafeString:
    """The chart's <svg> element, without pygal's config script and comments.

    Serialized by lxml, which escapes every label: safe to embed in the page.
    """
    tree = chart.render_tree()
    for node in list(tree.iter("script", etree.Comment)):
        node.getparent().remove(node)
    return mark_safe(etree.tostring(tree, encoding="unicode"))  # noqa: S308


def count_axis(largest: int, ticks: int = 5) -> dict[str, Any]:
    """pygal options for a y axis of counts: whole-number labels only (no 0.5 records),
    from 0 to at least the largest count, at most about ``ticks`` steps."""
    step = max(1, -(-largest // ticks))  # ceiling division
    top = max(1, -(-largest // step) * step)
    return {
        "y_labels": list(range(0, top + 1, step)),
        "range": (0, top),
        "value_formatter": lambda value: f"{value:,.0f}",
    }


@dataclass(frozen=True)
class CountChart:
    """A chart of counts with its numbers as a table (the chart's text alternative)."""

    key: str
    title: str
    svg: SafeString | None  # None: nothing to draw, the page says ``empty`` instead
    columns: list[str]
    rows: list[list[Any]]
    empty: str
