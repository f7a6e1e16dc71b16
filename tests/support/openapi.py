"""Reading the served OpenAPI document in tests."""

from __future__ import annotations

from typing import Any

REF = "#/components/schemas/"


def inlined(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every component reference replaced by the component itself, and a
    field that is a named enum (``allOf`` of one reference, beside its title) as the enum:
    what a test of one operation's body wants to read; the contract has them named."""
    schemas = document.get("components", {}).get("schemas", {})

    def walk(node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [walk(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF) and ref not in seen:
            target = schemas[ref.removeprefix(REF)]
            return walk({**target, **{k: v for k, v in node.items() if k != "$ref"}}, (*seen, ref))
        if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:  # a named enum
            only = walk(node["allOf"][0], seen)
            rest = {key: walk(value, seen) for key, value in node.items() if key != "allOf"}
            return {**only, **rest}
        return {key: walk(value, seen) for key, value in node.items()}

    return walk(document)
