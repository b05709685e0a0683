"""TOML files whose errors name the file, the line and the key.

``tomllib`` reports syntax errors with a line and column but forgets where each key came from. ``TomlFile`` keeps
the text beside the parsed data and finds the line that defined a key path, so a validator can say
``center.toml:14: ivr.menus.main.options.9: unknown target 'sales2'`` instead of a bare key.

Key paths are tuples of keys and array-of-tables indexes (``("menus", "main", "options", "1")``,
``("agents", 3, "skills")``). The line finder understands tables, arrays of tables, dotted and quoted keys; a key
inside an inline table or a multi-line value is reported at the line of its nearest enclosing key it can find.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=""")
_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_PART = re.compile(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_\-]+)""")

Path_ = tuple[str | int, ...]


def _split_key(text: str) -> list[str]:
    return [m.group(1) or m.group(2) or m.group(3) or "" for m in _PART.finditer(text)]


@dataclass
class TomlFile:
    """A parsed TOML file: ``data`` (the mapping), ``path`` (for messages) and the line of every key path."""

    path: str
    data: dict[str, Any]
    lines: dict[Path_, int] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> TomlFile:
        """Read and parse ``path``; ``ConfigError`` names the file (and line, for syntax errors)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, path: str = "<string>") -> TomlFile:
        """Parse ``text``; a syntax error is a ``ConfigError`` ``path:line: not valid TOML: ...``."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = _AT_LINE.search(str(exc))  # Python < 3.14 has no exc.lineno
            line, problem = (found.group(1), _AT_LINE.sub("", str(exc))) if found else (None, str(exc))
            where = f"{path}:{line}" if line else path
            raise ConfigError(f"{where}: not valid TOML: {problem.strip()}" + (f" (column {found.group(2)})" if found else "")) from None
        return cls(path, data, _key_lines(text))

    def line_of(self, key_path: Sequence[str | int]) -> int | None:
        """The line defining ``key_path``, or of its nearest ancestor that has one; ``None`` if none does."""
        parts = tuple(key_path)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return None

    def where(self, key_path: Sequence[str | int]) -> str:
        """``file:line: dotted.key`` (``file: dotted.key`` when the line is unknown), for error messages."""
        line = self.line_of(key_path)
        dotted = ".".join(str(p) for p in key_path)
        place = f"{self.path}:{line}" if line else self.path
        return f"{place}: {dotted}" if dotted else place

    def error(self, key_path: Sequence[str | int], problem: str) -> ConfigError:
        """A ``ConfigError`` naming the file, line and key of ``key_path``, then ``problem``."""
        return ConfigError(f"{self.where(key_path)}: {problem}")


def _key_lines(text: str) -> dict[Path_, int]:
    lines: dict[Path_, int] = {}
    table: Path_ = ()
    array_counts: dict[Path_, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            names = _split_key(header.group(2))
            if header.group(1) == "[[":
                keys = (*_resolve(names[:-1], array_counts), names[-1])
                index = array_counts.get(keys, -1) + 1
                array_counts[keys] = index
                lines.setdefault(keys, number)
                table = (*keys, index)
            else:
                table = _resolve(names, array_counts)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault((*table, *_split_key(key.group(1))), number)
    return lines


def _resolve(keys: list[str], array_counts: dict[Path_, int]) -> Path_:
    """A header path with the current index inserted after every array of tables it passes through."""
    out: Path_ = ()
    for key in keys:
        out = (*out, key)
        if out in array_counts:
            out = (*out, array_counts[out])
    return out
