"""Text that can travel: one rule for control characters, and text made safe for XML.

A C0 control character (U+0000 to U+001F, except tab, line feed and carriage return)
cannot be written to an XML 1.0 document at all, PostgreSQL refuses U+0000, and no
one types them on purpose: they come from copy and paste or broken exports. Every
validator (activities and learners, so every channel) refuses them in every text field
under the one rule :data:`CONTROL_CHARACTER_RULE`. Text stored before the rule, or
written by other means, is still exported: :func:`xml_safe` drops what XML 1.0 cannot
hold instead of failing.
"""

from __future__ import annotations

import re

CONTROL_CHARACTER_RULE = "text.control_character"
CONTROL_CHARACTER_FIELD = "text"  # the rule's field in the catalogs: every text field
CONTROL_CHARACTER_MESSAGE = (
    "Text may not contain control characters (only tab and line breaks are allowed); "
    "remove them, they cannot be stored or exported."
)

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Everything outside the Char production of XML 1.0 (section 2.2): the control characters
# above, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def control_character(text: str) -> str | None:
    """The first control character `text` may not contain, or None."""
    match = _CONTROL.search(text)
    return match.group() if match else None


def control_character_message(label: str, character: str) -> str:
    """The message of the rule for one field (never quotes the value: it may be personal)."""
    return (
        f"{label} contains a control character (U+{ord(character):04X}); only tab and line "
        "breaks are allowed. Remove it: it cannot be stored or exported."
    )


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold (dropped, as in XLSX exports)."""
    if _NOT_XML.search(text) is None:
        return text
    return _NOT_XML.sub("", text)
