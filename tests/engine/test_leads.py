"""Lead files: good rows kept, every broken row reported by line; file-level problems are one clear error."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.leads import (
    MAX_FIELD_CHARS,
    RowError,
    decode_leads,
    parse_leads,
    read_leads,
    region_zones,
    resolve_timezones,
)
from engine.leads_command import add_arguments, run
from engine.store import SqliteStore
from engine.store.target import STORE_FILE

MIXED = """phone,timezone,region,priority,value,name
+14155550100,,,5,10.5,Ann
+15551234567,,,,,Bad number
+442079460000,Mars/Base,,,,Bad zone
+1 415 555 0100,,,,,Duplicate of Ann
+442079460001,,,high,,Bad priority
020 7946 0002,,GB,,,Bob
+12085550100,,US,,,Idaho
+80012345678,,,,,No zone
"""


def reasons(errors: list[RowError]) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for e in errors:
        out.setdefault(e.line, []).append((e.column, e.reason))
    return out


def test_good_rows_are_kept_and_broken_rows_reported_by_line() -> None:
    parsed = parse_leads(MIXED, "c1", source="mixed.csv")
    assert [lead.phone for lead in parsed.leads] == ["+14155550100", "+442079460002", "+12085550100"]
    assert parsed.lines == [2, 7, 8]
    found = reasons(parsed.errors)
    assert sorted(found) == [3, 4, 5, 6, 9]
    assert found[3][0][0] == "phone" and "invalid number" in found[3][0][1]
    assert found[4] == [("timezone", "unknown time zone 'Mars/Base'")]
    assert found[5] == [("phone", "duplicate of line 2")]
    assert found[6][0][0] == "priority" and "not an integer" in found[6][0][1]
    assert found[9][0][0] == "timezone" and found[9][0][1].startswith("unknown time zone")
    assert parsed.rows == 8 == len(parsed.leads) + parsed.rejected
    assert parsed.errors[0].value == "+15551234567"


def test_lead_records_are_normalised() -> None:
    ann, bob, _ = parse_leads(MIXED, "c1").leads
    assert ann.id == "14155550100" and ann.campaign == "c1"
    assert ann.timezones == ("America/Los_Angeles",)
    assert (ann.priority, ann.value, ann.fields) == (5, 10.5, {"name": "Ann"})
    assert bob.phone == "+442079460002" and bob.timezones == ("Europe/London",)


def test_ids_are_stable_across_files_and_explicit_ids_win() -> None:
    a = parse_leads("phone\n+14155550100\n", "c").leads[0]
    b = parse_leads("name,phone\nx,+1 (415) 555-0100\n", "c").leads[0]
    assert a.id == b.id == "14155550100"
    c = parse_leads("ID,Phone\ncrm-7,+14155550100\n", "c").leads[0]
    assert c.id == "crm-7"
    dup = parse_leads("id,phone\nx,+14155550100\nx,+14155550101\n", "c")
    assert reasons(dup.errors) == {3: [("id", "id 'x' is a duplicate of line 2")]}


def test_ambiguous_number_gets_every_zone() -> None:
    """An Idaho number spans Mountain and Pacific time; a US region does not settle it, so both are kept."""
    lead = parse_leads("phone,region\n+12085550100,US\n", "c").leads[0]
    assert lead.timezones == ("America/Boise", "America/Los_Angeles")
    lead = parse_leads("phone,region\n+12085550100,US-ID\n", "c").leads[0]
    assert lead.timezones == ("America/Boise", "America/Los_Angeles")


def test_region_narrows_a_number_spanning_many_zones() -> None:
    toll_free = parse_leads("phone\n+18005550100\n", "c").leads[0]
    assert len(toll_free.timezones) > 10
    assert parse_leads("phone,region\n+18005550100,US-CA\n", "c").leads[0].timezones == ("America/Los_Angeles",)
    mobile = parse_leads("phone,region\n+61412345678,AU-VIC\n", "c").leads[0]
    assert mobile.timezones == ("Australia/Melbourne",)


def test_number_and_address_in_different_zones_keep_both() -> None:
    lead = parse_leads("phone,region\n+14155550100,US-NY\n", "c").leads[0]
    assert lead.timezones == ("America/Los_Angeles", "America/New_York")


def test_timezone_column_wins_and_may_list_several() -> None:
    lead = parse_leads("phone,timezone\n+14155550100,America/New_York; America/Chicago\n", "c").leads[0]
    assert lead.timezones == ("America/New_York", "America/Chicago")


def test_resolve_timezones_rules() -> None:
    assert resolve_timezones(["A", "B"], ["B", "C"]) == ("B",)
    assert resolve_timezones(["A"], ["C"]) == ("A", "C")
    assert resolve_timezones(["A", "B"], ["C"]) == ("C",)
    assert resolve_timezones([], ["C"]) == ("C",)
    assert resolve_timezones([], []) == ()
    assert region_zones("US-ZZ") is None and region_zones("XX") is None and region_zones("gb!") is None
    assert "Europe/London" in (region_zones("GB") or ())


def test_national_numbers_need_a_region() -> None:
    parsed = parse_leads("phone\n020 7946 0000\n", "c")
    assert not parsed.leads and "no country code" in parsed.errors[0].reason
    parsed = parse_leads("phone\n020 7946 0000\n", "c", default_region="GB")
    assert parsed.leads[0].phone == "+442079460000"
    with pytest.raises(ConfigError, match="default region 'XX'"):
        parse_leads("phone\n+442079460000\n", "c", default_region="XX")


def test_other_row_errors() -> None:
    long = "x" * (MAX_FIELD_CHARS + 1)
    text = ("phone,value,region,note\n"
            "+442079460000,lots,,\n"
            "+442079460001,nan,,\n"
            "+442079460002,,ZZ,\n"
            f"+442079460003,,,{long}\n"
            "+442079460004,,\n"
            ",,,\n"
            "+442079460005,1e3,GB,ok\n")
    parsed = parse_leads(text, "c")
    found = reasons(parsed.errors)
    assert found[2] == [("value", "not a number: 'lots'")]
    assert found[3] == [("value", "not a finite number: 'nan'")]
    assert found[4][0][0] == "region" and "unknown region 'ZZ'" in found[4][0][1]
    assert found[5] == [("note", f"longer than {MAX_FIELD_CHARS} characters ({MAX_FIELD_CHARS + 1})")]
    assert len(parsed.errors[3].value) < 300
    assert found[6] == [("", "3 values for 4 columns")]
    assert 7 not in found  # a row of empty cells is a blank line, not a row
    assert parsed.rows == 6 and [lead.value for lead in parsed.leads] == [1000.0]


def test_quoted_multiline_fields_report_their_first_line() -> None:
    text = 'phone,note\n+442079460000,"two\nlines"\n+15551234567,x\n'
    parsed = parse_leads(text, "c")
    assert parsed.leads[0].fields == {"note": "two\nlines"}
    assert parsed.errors[0].line == 4


@pytest.mark.parametrize(("text", "message"), [
    ("", "the file is empty"),
    ("\n\n", "the file is empty"),
    ("name,email\nAnn,a@example.com\n", "no 'phone' column"),
    ("phone;name\n+442079460000;Ann\n", "the header looks ;-separated"),
    ("phone\tname\n+442079460000\tAnn\n", "the header looks tab-separated"),
    ("phone,Phone\n1,2\n", "appears twice"),
    ("phone,,name\n1,2,3\n", "column 2 has no name"),
    ("\nphone\n+442079460000\n", "the header must be the first line"),
    ("phone\n+4420\x0079460000\n", "NUL"),
])
def test_file_level_problems_name_the_file(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_leads(text, "c", source="list.csv")
    assert str(info.value).startswith("list.csv: ")


def test_too_many_rows_is_a_file_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.leads.MAX_ROWS", 2)
    with pytest.raises(ConfigError, match="more than 2 rows"):
        parse_leads("phone\n+442079460000\n+442079460001\n+442079460002\n", "c", source="big.csv")


def test_non_utf8_bytes_are_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("phone,name\n+442079460000,Zoë\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.csv: line 2: not UTF-8 \(byte 0xeb"):
        read_leads(path, "c")
    with pytest.raises(ConfigError, match="UTF-16"):
        decode_leads("phone\n".encode("utf-16"), "u16.csv")
    assert decode_leads("\ufeffphone\n".encode(), "bom.csv") == "phone\n"
    with pytest.raises(ConfigError, match="cannot read"):
        read_leads(tmp_path / "missing.csv", "c")


# ----------------------------------------------------------------------------------------------- the command ----

def parse_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="switchboard leads")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_command_imports_and_reports_row_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED, encoding="utf-8")
    data = tmp_path / "var"
    assert run(parse_args("import", "--campaign", "c1", str(path), "--data-dir", str(data))) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: 8 rows: 3 imported, 5 rejected (campaign c1, import #1)"
    assert f"{path}:5: phone: duplicate of line 2" in out
    assert f"{path}:4: timezone: unknown time zone 'Mars/Base'" in out
    assert len(out) == 6
    store = SqliteStore(data / STORE_FILE)
    try:
        assert len(store.leads("c1")) == 3
    finally:
        store.close()

    assert run(parse_args("import", "--campaign", "c1", str(path), "--data-dir", str(data), "--json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["rows"], result["imported"], result["rejected"]) == (8, 0, 8)
    assert result["same_file_as"] == 1 and result["file"] == str(path)
    assert sum("already imported" in e["reason"] for e in result["errors"]) == 3

    assert run(parse_args("import", "--campaign", "c1", str(path), "--data-dir", str(data))) == 0
    out = capsys.readouterr().out
    assert "already imported (import #1); nothing new" in out


def test_command_file_level_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("phone;name\n+442079460000;Ann\n", encoding="utf-8")
    status = run(parse_args("import", "--campaign", "c1", str(path), "--data-dir", str(tmp_path / "var")))
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "separated" in lines[0]
    assert not (tmp_path / "var" / STORE_FILE).exists()


def test_command_requires_a_campaign(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args("import", "list.csv")
    assert info.value.code == 2
    assert "--campaign" in capsys.readouterr().err
