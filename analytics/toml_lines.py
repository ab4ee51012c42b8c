"""Where a key of a TOML file is written, for error messages: tomllib parses without positions, so the line is found
again in the text from the key's path (a table header `[a.b]`, the n-th `[[a]]`, then `key =` inside it)."""

from __future__ import annotations

import re
from collections.abc import Sequence

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")


def line_of(text: str, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of the key at `loc` (pydantic's error location: names, and list indexes for `[[arrays]]`),
    else of the deepest table header found on the way; None when nothing of it is written (a missing section)."""
    names = [str(item) for item in loc if not isinstance(item, int)]
    index = next((item for item in loc if isinstance(item, int)), 0)
    lines = text.splitlines()
    start, found = 0, None
    for depth in range(len(names), 0, -1):  # the deepest written table: [alerts.email], else [alerts]
        table, seen = ".".join(names[:depth]), -1
        for number, line in enumerate(lines):
            match = _HEADER.match(line)
            if match and match.group(2) == table:
                seen += 1
                if match.group(1) == "[" or seen == index:
                    start, found = number + 1, number + 1
                    break
        if found:
            keys = names[depth:]
            break
    else:
        keys = names
    if len(keys) != 1:
        return found
    key = re.compile(rf"^\s*{re.escape(keys[0])}\s*=")
    for number in range(start, len(lines)):
        if found and _HEADER.match(lines[number]):
            break
        if key.match(lines[number]):
            return number + 1
        if not found and _HEADER.match(lines[number]):
            break
    return found
