"""Lead lists: reading a campaign's CSV file into ``Lead`` records, with every broken row reported by line.

Theory of operation. ``parse_leads(text, campaign)`` reads a comma-separated file whose first line is a header.
Columns (names are matched without regard to case or surrounding blanks):

- ``phone`` (required): any form ``phonenumbers`` reads; a number without ``+`` needs the row's ``region`` or the
  ``default_region``. Stored in E.164 (``+14155550100``).
- ``timezone`` (optional): one IANA zone, or several separated by ``;`` (calling hours must hold in every one).
  When given it wins; when empty the zones are found from the number and the region (``resolve_timezones``).
- ``region`` (optional): an ISO 3166 country (``GB``) or subdivision (``US-CA``); it is the default country for
  parsing the number and it narrows an ambiguous number's zones.
- ``priority`` (optional, integer, higher first), ``value`` (optional, decimal: customer value, the tie-breaker).
- ``id`` (optional): the lead's id; by default the E.164 digits (``14155550100``), so re-importing the same
  number gives the same id.
- every other column goes into ``Lead.fields`` under its header name (shown in the agent's screen pop).

Contract: a problem with the file as a whole (empty, not UTF-8, no header, no ``phone`` column, not
comma-separated, too many rows) is a ``ConfigError`` naming the file, and nothing is returned. A problem with a row
is a ``RowError`` (line, column, reason, raw value) and never costs another row: every row is either a lead or
rejected with at least one error (``LeadImport.rows == len(leads) + rejected``). The first valid occurrence of a
phone number (or id) is kept; later ones are rejected as ``duplicate of line N``.

Storing is ``Store.import_leads`` (``engine.store.leads_sql``): it adds the store-level check that a number is
not already in the campaign. ``LEAD_STATUSES`` are the states a stored lead is in.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import importlib.resources
import io
import math
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
from phonenumbers import timezone as phone_timezone

from engine.errors import ConfigError
from engine.model import Lead

LEAD_STATUSES: tuple[str, ...] = ("new", "scheduled", "done", "dnc", "exhausted")
"""A stored lead's status. ``new``: imported, never attempted. ``scheduled``: attempted, to be tried again
(at ``next_attempt``). ``done``: reached, nothing more to do. ``dnc``: on a do-not-call or block list, never to be
dialled. ``exhausted``: ``max_attempts`` used up. ``new`` and ``scheduled`` are open (``OPEN_LEAD_STATUSES``); the
other three are final."""

OPEN_LEAD_STATUSES: tuple[str, ...] = ("new", "scheduled")
FINAL_LEAD_STATUSES: tuple[str, ...] = ("done", "dnc", "exhausted")

COLUMNS: tuple[str, ...] = ("phone", "timezone", "region", "priority", "value", "id")
"""The columns with a meaning; any other column is a free field."""

MAX_ROWS = 1_000_000
"""More data rows than this is a file error: split the file."""
MAX_FIELD_CHARS = 1_000
"""A value longer than this rejects its row."""
MAX_COLUMNS = 200
MAX_PRIORITY = 1_000_000
"""Priorities are integers from ``-MAX_PRIORITY`` to ``MAX_PRIORITY``."""
MAX_RAW_CHARS = 200
"""``RowError.value`` keeps at most this many characters of the raw value (then ``…``)."""

_REGION = re.compile(r"^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$")
_ZONE_SPLIT = re.compile(r"[;|\s]+")

# ISO 3166-2 subdivision -> its IANA zones, for the countries whose numbers are often ambiguous (toll-free and
# mobile numbers, area codes across a zone line). Names are those ``phonenumbers`` uses where it has them, so a
# region narrows a number's zones by intersection. A subdivision of another country stands for the whole country.
_E, _C, _M, _P = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
SUBDIVISION_ZONES: dict[str, tuple[str, ...]] = {
    "US-AL": (_C,), "US-AK": ("America/Anchorage", "America/Juneau", "America/Sitka", "America/Nome",
                              "America/Yakutat", "America/Metlakatla", "America/Adak"),
    "US-AZ": ("America/Phoenix", _M), "US-AR": (_C,), "US-CA": (_P,), "US-CO": (_M,), "US-CT": (_E,),
    "US-DE": (_E,), "US-DC": (_E,), "US-FL": (_E, _C), "US-GA": (_E,), "US-HI": ("Pacific/Honolulu",),
    "US-ID": ("America/Boise", _P), "US-IL": (_C,), "US-IN": (_E, _C, "America/Indiana/Indianapolis"),
    "US-IA": (_C,), "US-KS": (_C, _M), "US-KY": (_E, _C, "America/Kentucky/Louisville"), "US-LA": (_C,),
    "US-ME": (_E,), "US-MD": (_E,), "US-MA": (_E,), "US-MI": (_E, "America/Detroit", _C, "America/Menominee"),
    "US-MN": (_C,), "US-MS": (_C,), "US-MO": (_C,), "US-MT": (_M,), "US-NE": (_C, _M), "US-NV": (_P, _M),
    "US-NH": (_E,), "US-NJ": (_E,), "US-NM": (_M,), "US-NY": (_E,), "US-NC": (_E,),
    "US-ND": (_C, _M, "America/North_Dakota/Center"), "US-OH": (_E,), "US-OK": (_C,), "US-OR": (_P, "America/Boise"),
    "US-PA": (_E,), "US-RI": (_E,), "US-SC": (_E,), "US-SD": (_C, _M), "US-TN": (_E, _C), "US-TX": (_C, _M),
    "US-UT": (_M,), "US-VT": (_E,), "US-VA": (_E,), "US-WA": (_P,), "US-WV": (_E,), "US-WI": (_C,), "US-WY": (_M,),
    "US-PR": ("America/Puerto_Rico",), "US-GU": ("Pacific/Guam",), "US-VI": ("America/St_Thomas",),
    "US-AS": ("Pacific/Pago_Pago",), "US-MP": ("Pacific/Saipan",),
    "CA-AB": ("America/Edmonton",), "CA-BC": ("America/Vancouver", "America/Fort_Nelson", "America/Edmonton"),
    "CA-MB": ("America/Winnipeg",), "CA-NB": ("America/Halifax", "America/Moncton"),
    "CA-NL": ("America/St_Johns", "America/Halifax", "America/Goose_Bay"), "CA-NS": ("America/Halifax",),
    "CA-NT": ("America/Edmonton", "America/Yellowknife", "America/Inuvik"),
    "CA-NU": ("America/Iqaluit", "America/Rankin_Inlet", "America/Cambridge_Bay", "America/Winnipeg",
              "America/Edmonton", "America/Toronto"),
    "CA-ON": ("America/Toronto", "America/Winnipeg"), "CA-PE": ("America/Halifax",),
    "CA-QC": ("America/Toronto", "America/Montreal", "America/Halifax"),
    "CA-SK": ("America/Regina", "America/Swift_Current", "America/Edmonton"), "CA-YT": ("America/Whitehorse",),
    "AU-NSW": ("Australia/Sydney", "Australia/Broken_Hill", "Australia/Lord_Howe"),
    "AU-VIC": ("Australia/Melbourne",), "AU-QLD": ("Australia/Brisbane",), "AU-SA": ("Australia/Adelaide",),
    "AU-WA": ("Australia/Perth", "Australia/Eucla"), "AU-TAS": ("Australia/Hobart",),
    "AU-ACT": ("Australia/Sydney",), "AU-NT": ("Australia/Darwin",),
}
_SUBDIVIDED = frozenset(code.split("-")[0] for code in SUBDIVISION_ZONES)
PARSE_ERRORS: dict[int, str] = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no country code (start with + or give a region)",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}
"""Why ``phonenumbers`` could not parse a number, in words (shared with the DNC import)."""


# ------------------------------------------------------------------------------------------------- records ----

@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one row: ``line`` in the file (the header is line 1; a row spanning several lines is
    named by its first), the ``column`` at fault (``""`` for the row as a whole), ``reason``, and the raw ``value``
    (at most ``MAX_RAW_CHARS`` characters)."""

    line: int
    column: str
    reason: str
    value: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason, "value": self.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowError:
        return cls(int(data["line"]), str(data["column"]), str(data["reason"]), str(data.get("value", "")))

    def format(self, source: str) -> str:
        """``FILE:LINE: column: reason``, the form the CLI prints (the column is left out when empty)."""
        where = f"{source or '<leads>'}:{self.line}"
        return f"{where}: {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class LeadImport:
    """A parsed file: the good rows as ``leads`` (``lines[i]`` is the line of ``leads[i]``), every problem as
    ``errors`` (sorted by line), ``rows`` the number of data rows read (blank lines are not rows), ``digest`` the
    SHA-256 of the text (how the store recognises the same file imported again)."""

    campaign: str
    source: str
    digest: str
    rows: int
    leads: list[Lead] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """The number of rows with at least one error (``rows == len(leads) + rejected``)."""
        return len({e.line for e in self.errors})


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What ``Store.import_leads`` did: ``rows == imported + rejected``; ``errors`` are the parse errors and the
    store's (``already imported``, ``id already used``) by line. ``same_file_as``: the earlier import of the same
    campaign with the same digest, if there was one (the same file again)."""

    import_id: int
    campaign: str
    source: str
    digest: str
    at: float
    rows: int
    imported: int
    rejected: int
    errors: tuple[RowError, ...] = ()
    same_file_as: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"import_id": self.import_id, "campaign": self.campaign, "source": self.source,
                "digest": self.digest, "at": self.at, "rows": self.rows, "imported": self.imported,
                "rejected": self.rejected, "errors": [e.to_dict() for e in self.errors],
                "same_file_as": self.same_file_as}


# ----------------------------------------------------------------------------------------------- time zones ----

def _zone_ok(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


@functools.lru_cache(maxsize=1)
def country_zones() -> dict[str, tuple[str, ...]]:
    """ISO country -> its IANA zones, from the tz database's ``zone.tab`` (the system's, else the ``tzdata``
    package's). Empty if neither is installed: a country region then helps parse numbers but adds no zones."""
    text = None
    for directory in zoneinfo.TZPATH:
        try:
            text = (Path(directory) / "zone.tab").read_text(encoding="utf-8")
            break
        except OSError:
            continue
    if text is None:
        try:
            text = importlib.resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
        except (ModuleNotFoundError, OSError):
            return {}
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and not line.startswith("#"):
            zones.setdefault(parts[0].strip(), []).append(parts[2].strip())
    return {country: tuple(sorted(names)) for country, names in zones.items()}


def region_zones(region: str) -> tuple[str, ...] | None:
    """The zones of an ISO region (``GB``, ``US-CA``), ``()`` if the region is known but its zones are not, or
    ``None`` if it is no region at all. A subdivision outside ``SUBDIVISION_ZONES``'s countries stands for its
    country; an unknown one of those countries (``US-ZZ``) is no region."""
    match = _REGION.match(region)
    if match is None:
        return None
    country, sub = match.groups()
    if country not in phonenumbers.SUPPORTED_REGIONS and country not in country_zones():
        return None
    if sub is not None and country in _SUBDIVIDED:
        found = SUBDIVISION_ZONES.get(region)
        return None if found is None else tuple(sorted(z for z in found if _zone_ok(z)))
    return tuple(z for z in country_zones().get(country, ()) if _zone_ok(z))


def number_zones(number: phonenumbers.PhoneNumber) -> tuple[str, ...]:
    """The zones ``phonenumbers`` gives the number (all of them when its prefix spans several), those known to
    ``zoneinfo`` only; ``()`` when unknown."""
    return tuple(sorted(z for z in phone_timezone.time_zones_for_number(number)
                        if z != "Etc/Unknown" and _zone_ok(z)))


def resolve_timezones(number_side: Iterable[str], region_side: Iterable[str]) -> tuple[str, ...]:
    """The callee's possible zones from the number's zones ``N`` and the region's ``R`` (either may be empty).

    Both given: ``N ∩ R`` if they meet (the region picks among an ambiguous number's zones); if they do not, ``N ∪ R``
    when the number names one zone (number and address disagree: calling hours must hold at both), else ``R`` (a
    number spanning many zones, like a mobile or toll-free one, does not locate the callee; the region does).
    One given: that one. ``()`` when neither is known."""
    n, r = set(number_side), set(region_side)
    if n and r:
        both = n & r
        if both:
            return tuple(sorted(both))
        return tuple(sorted(n | r)) if len(n) == 1 else tuple(sorted(r))
    return tuple(sorted(n or r))


# -------------------------------------------------------------------------------------------------- parsing ----

def decode_leads(data: bytes, source: str = "") -> str:
    """The text of a lead file: UTF-8, with or without a byte-order mark. ``ConfigError`` naming the file and the
    line otherwise."""
    name = source or "<leads>"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{name}: the file is UTF-16; save it as CSV UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{name}: line {line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                          f"save the file as CSV UTF-8") from None


def read_leads(path: str | Path, campaign: str, *, default_region: str | None = None) -> LeadImport:
    """``parse_leads`` on the file at ``path`` (``source`` is the path). ``ConfigError`` if it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the lead file: {exc.strerror or exc}") from None
    return parse_leads(decode_leads(data, str(path)), campaign, source=str(path), default_region=default_region)


def _clip(raw: str) -> str:
    return raw if len(raw) <= MAX_RAW_CHARS else raw[:MAX_RAW_CHARS] + "…"


def _header(row: list[str], name: str) -> dict[str, int]:
    """Column name -> index. Known columns are lower-cased; free columns keep their header name."""
    if len(row) > MAX_COLUMNS:
        raise ConfigError(f"{name}: line 1: {len(row)} columns (at most {MAX_COLUMNS})")
    index: dict[str, int] = {}
    for i, cell in enumerate(row):
        label = cell.strip()
        if not label:
            raise ConfigError(f"{name}: line 1: column {i + 1} has no name (the first line must be the header)")
        key = label.lower() if label.lower() in COLUMNS else label
        if key in index:
            raise ConfigError(f"{name}: line 1: column {label!r} appears twice")
        index[key] = i
    if "phone" not in index:
        if len(row) == 1 and any(sep in row[0] for sep in ";\t|"):
            sep = next(s for s in ";\t|" if s in row[0])
            raise ConfigError(f"{name}: line 1: the header looks {'tab' if sep == chr(9) else sep}-separated; "
                              f"lead files are comma-separated (save as CSV UTF-8)")
        raise ConfigError(f"{name}: line 1: no 'phone' column (columns: {', '.join(c.strip() for c in row)})")
    return index


def _parse_region(raw: str, line: int, errors: list[RowError]) -> tuple[str | None, tuple[str, ...]]:
    """``(country for parsing, zones)`` of a region cell; a row error for a region that is none."""
    region = raw.strip().upper()
    if not region:
        return None, ()
    zones = region_zones(region)
    if zones is None:
        errors.append(RowError(line, "region", f"unknown region {raw.strip()!r} (an ISO country like GB or a "
                                               f"subdivision like US-CA)", _clip(raw)))
        return None, ()
    return region.split("-")[0], zones


def _parse_row(cells: dict[str, str], line: int, campaign: str, default_region: str | None
               ) -> tuple[Lead | None, list[RowError]]:
    errors: list[RowError] = []
    for column, raw in cells.items():
        if len(raw) > MAX_FIELD_CHARS:
            errors.append(RowError(line, column, f"longer than {MAX_FIELD_CHARS} characters ({len(raw)})",
                                   _clip(raw)))
    if errors:
        return None, errors

    country, zones_r = _parse_region(cells.get("region", ""), line, errors)
    raw_phone = cells.get("phone", "")
    phone = ""
    zones_n: tuple[str, ...] = ()
    if not raw_phone.strip():
        errors.append(RowError(line, "phone", "missing", raw_phone))
    else:
        try:
            number = phonenumbers.parse(raw_phone.strip(), country or default_region)
        except phonenumbers.NumberParseException as exc:
            why = PARSE_ERRORS.get(exc.error_type, "not a phone number")
            reason = f"invalid number {raw_phone.strip()!r}: {why}"
            errors.append(RowError(line, "phone", reason, _clip(raw_phone)))
        else:
            if phonenumbers.is_valid_number(number):
                phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                zones_n = number_zones(number)
            else:
                errors.append(RowError(line, "phone", f"invalid number {raw_phone.strip()!r}", _clip(raw_phone)))

    timezones: tuple[str, ...] = ()
    raw_tz = cells.get("timezone", "")
    if raw_tz.strip():
        names = [n for n in _ZONE_SPLIT.split(raw_tz.strip()) if n]
        bad = [n for n in names if not _zone_ok(n)]
        if bad:
            errors.append(RowError(line, "timezone", f"unknown time zone {', '.join(map(repr, bad))}",
                                   _clip(raw_tz)))
        else:
            timezones = tuple(dict.fromkeys(names))
    elif phone:
        timezones = resolve_timezones(zones_n, zones_r)
        if not timezones:
            errors.append(RowError(line, "timezone", f"unknown time zone for {phone} (give a timezone or a region)",
                                   ""))

    priority = 0
    raw_priority = cells.get("priority", "").strip()
    if raw_priority:
        try:
            priority = int(raw_priority)
        except ValueError:
            errors.append(RowError(line, "priority", f"not an integer: {raw_priority!r}", _clip(raw_priority)))
        else:
            if abs(priority) > MAX_PRIORITY:
                errors.append(RowError(line, "priority", f"{priority} is out of range "
                                                         f"(-{MAX_PRIORITY}..{MAX_PRIORITY})", raw_priority))
    value = 0.0
    raw_value = cells.get("value", "").strip()
    if raw_value:
        try:
            value = float(raw_value)
        except ValueError:
            errors.append(RowError(line, "value", f"not a number: {raw_value!r}", _clip(raw_value)))
        else:
            if not math.isfinite(value):
                errors.append(RowError(line, "value", f"not a finite number: {raw_value!r}", raw_value))
    if errors or not phone:
        return None, errors
    lead_id = cells.get("id", "").strip() or phone.lstrip("+")
    fields = {k: v for k, v in cells.items() if k not in COLUMNS}
    return Lead(id=lead_id, campaign=campaign, phone=phone, timezones=timezones, priority=priority, value=value,
                fields=fields), errors


def parse_leads(text: str, campaign: str, *, source: str = "", default_region: str | None = None) -> LeadImport:
    """Read a lead file's ``text`` (see the module's docstring for the columns) for ``campaign``.

    ``source`` names the file in messages; ``default_region`` (ISO country) is the country of numbers written
    without ``+`` in rows with no region. Returns every good row as a ``Lead`` and every bad one as ``RowError``s;
    raises ``ConfigError`` (naming ``source``) for a file that cannot be read as a lead list at all.
    """
    name = source or "<leads>"
    if not isinstance(campaign, str) or not campaign.strip():
        raise ConfigError(f"{name}: campaign: empty")
    if default_region is not None and default_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"{name}: default region {default_region!r}: not an ISO country phonenumbers knows")
    region = default_region.upper() if default_region else None
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise ConfigError(f"{name}: line {text[:text.index(chr(0))].count(chr(10)) + 1}: contains NUL characters "
                          f"(not a text CSV file)")
    if not text.strip():
        raise ConfigError(f"{name}: the file is empty (expected a header line with a 'phone' column)")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    reader = csv.reader(io.StringIO(text, newline=""))
    header: dict[str, int] | None = None
    leads: list[Lead] = []
    lines: list[int] = []
    errors: list[RowError] = []
    first_phone: dict[str, int] = {}
    first_id: dict[str, int] = {}
    rows = 0
    end = 0  # line on which the previous record ended
    try:
        for record in reader:
            line, end = end + 1, reader.line_num
            if header is None:
                if not any(cell.strip() for cell in record):
                    continue  # blank lines before the header
                if line != 1:
                    raise ConfigError(f"{name}: line {line}: the header must be the first line")
                header = _header(record, name)
                continue
            if not any(cell.strip() for cell in record):
                continue  # a blank line is not a row
            rows += 1
            if rows > MAX_ROWS:
                raise ConfigError(f"{name}: more than {MAX_ROWS:,} rows; split the file")
            if len(record) != len(header):
                errors.append(RowError(line, "", f"{len(record)} values for {len(header)} columns",
                                       _clip(",".join(record))))
                continue
            cells = {key: record[i] for key, i in header.items()}
            lead, row_errors = _parse_row(cells, line, campaign, region)
            if lead is not None:
                if lead.phone in first_phone:
                    row_errors.append(RowError(line, "phone", f"duplicate of line {first_phone[lead.phone]}",
                                               _clip(cells["phone"])))
                elif lead.id in first_id:
                    row_errors.append(RowError(line, "id", f"id {lead.id!r} is a duplicate of line "
                                                           f"{first_id[lead.id]}", _clip(lead.id)))
            if row_errors:
                errors.extend(row_errors)
                continue
            assert lead is not None
            first_phone[lead.phone] = line
            first_id[lead.id] = line
            leads.append(lead)
            lines.append(line)
    except csv.Error as exc:
        raise ConfigError(f"{name}: line {reader.line_num}: unreadable CSV: {exc}") from None
    if header is None:
        raise ConfigError(f"{name}: the file is empty (expected a header line with a 'phone' column)")
    return LeadImport(campaign=campaign, source=source, digest=digest, rows=rows, leads=leads, lines=lines,
                      errors=errors)
