"""File keys: how every table but the harvest's file-state table names a file.

Archives are often laid out by patient (`.../DUPONT^JEAN_IPP123/...`), so a path is patient data: it is stored in
`raw.harvest_files` only. Wherever another table needs to say which file (or archive resource) a row came from, it
holds `file_key(salt, source, path)`, the same as SQL's `left(sha256(salt || '|' || source || '|' || path), 32)`
(migrations compute it for stored rows), except for a path whose name is not UTF-8: its key is of the path's bytes,
not of the text raw.harvest_files holds (`stored_path`). The salt is a secret of the working warehouse
(`raw.file_key_salt`, never published nor exported), so a reader of the published copy or the lake cannot test
guessed paths.
"""

from __future__ import annotations

import hashlib

NOT_UTF8 = "not-utf8:"  # before a stored path whose name is not UTF-8: no walked path, always absolute, starts so


def stored_path(path: str) -> str:
    """A path as raw.harvest_files holds it, and looks it up: text. A name that is not UTF-8 (a folder `BÉNARD`
    written under Latin-1) is stored as `not-utf8:` and the path with each byte that is not UTF-8 written as a
    backslash, `x` and its two hex digits: every harvest finds the file under the same text, and no other file can
    have it. Any other path is unchanged."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return NOT_UTF8 + path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return path


def file_key(salt: str, source: str, path: str) -> str:
    material = f"{salt}|{source}|{path}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(material).hexdigest()[:32]


def whole_file_quarantine(key: str, reason: str) -> tuple[str, str, None, str]:
    """A quarantine entry (key material, file key, line, reason) for a whole file: one per file, however often it
    is touched or harvested again."""
    return (f"{key}|file", key, None, reason)
