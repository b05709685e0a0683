"""The store's do-not-call lists and compliance audit (``DncStoreMixin`` of ``SqlStore``), on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import StoreError
from engine.leads import RowError
from engine.store import SqlStore, open_store
from engine.store.dnc_sql import dnc_list_name, e164
from engine.store.target import STORE_FILE
from tests.conftest import ManualClock


def test_add_normalises_and_reports_new(store: SqlStore, clock: ManualClock) -> None:
    assert store.dnc_add("+1 (415) 555-0100", reason="asked", source="agent a1")
    assert not store.dnc_add("+14155550100", reason="again")  # already listed: the first entry is kept
    assert store.dnc_add("+14155550100", list_name="campaign:sales")
    assert store.dnc_lists_for("+1 415-555-0100") == {"global", "campaign:sales"}
    assert store.dnc_lists_for("+12125550199") == set()
    assert store.dnc_lists_for("not a number") == set()
    assert store.dnc_entries("global") == [{"list": "global", "number": "+14155550100", "reason": "asked",
                                            "source": "agent a1", "added": 1000.0}]


def test_remove(store: SqlStore) -> None:
    store.dnc_add("+14155550100", list_name="blocked")
    assert not store.dnc_remove("+14155550100")  # not on the global list
    assert store.dnc_remove("+1 415 555 0100", "blocked")
    assert not store.dnc_remove("+14155550100", "blocked")
    assert store.dnc_lists_for("+14155550100") == set()


@pytest.mark.parametrize("number, message", [("", "empty"), ("12345", "no country code"),
                                             ("+1 555", "invalid number '\\+1 555'"),
                                             ("call me", "not a phone number")])
def test_add_refuses_invalid_numbers(store: SqlStore, number: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        store.dnc_add(number)
    assert store.dnc_entries("global") == []


@pytest.mark.parametrize("name", ["", "Global", "campaign:", "campaign: x", "dnc", 3])
def test_list_names_are_checked(store: SqlStore, name: object) -> None:
    with pytest.raises(StoreError, match="expected 'global', 'blocked' or 'campaign:<id>'"):
        store.dnc_add("+14155550100", list_name=name)  # type: ignore[arg-type]
    assert dnc_list_name("campaign:sales-2026") == "campaign:sales-2026"


def test_import_one_number_per_line(store: SqlStore) -> None:
    text = "# exported 2026-01-02\n+14155550100\n\n+1 212 555 0199\nnonsense\n+14155550100\n020 7946 0000\n"
    added, errors = store.dnc_import(text, list_name="blocked", source="complaints.txt")
    assert added == 2
    assert errors == [RowError(5, "phone", "invalid number 'nonsense': not a phone number", "nonsense"),
                      RowError(7, "phone", "invalid number '020 7946 0000': no country code (start with + or give "
                                           "a region)", "020 7946 0000")]
    assert [e["number"] for e in store.dnc_entries("blocked")] == ["+12125550199", "+14155550100"]
    assert {e["source"] for e in store.dnc_entries("blocked")} == {"complaints.txt"}
    # importing again adds nothing; a region reads national numbers
    assert store.dnc_import(text, list_name="blocked")[0] == 0
    assert store.dnc_import("020 7946 0000\n", list_name="blocked", region="GB") == (1, [])


def test_import_csv_with_a_phone_column(store: SqlStore) -> None:
    text = "\ufeffName,Phone,Reason\nAda,+14155550100,asked on the phone\nBob,,\n\"Cy, Jr\",bad,x\n" \
           "Di,+442079460000,\n"
    added, errors = store.dnc_import(text, list_name="campaign:sales")
    assert added == 2
    assert [(e.line, e.reason) for e in errors] == [(3, "missing"), (4, "invalid number 'bad': not a phone number")]
    entries = store.dnc_entries("campaign:sales")
    assert [(e["number"], e["reason"]) for e in entries] == [("+14155550100", "asked on the phone"),
                                                             ("+442079460000", "")]
    assert store.dnc_lists_for("+442079460000") == {"campaign:sales"}


def test_import_csv_without_a_phone_column_is_refused(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="no 'phone' column"):
        store.dnc_import("name,number\nAda,+14155550100\n")
    assert store.dnc_entries("global") == []


def test_entries_page(store: SqlStore, clock: ManualClock) -> None:
    for i in range(5):
        clock.now = 1000.0 + i
        store.dnc_add(f"+1415555010{i}")
    assert [e["number"] for e in store.dnc_entries("global", limit=2, offset=1)] == ["+14155550101",
                                                                                   "+14155550102"]
    with pytest.raises(StoreError, match="dnc limit"):
        store.dnc_entries("global", limit=0)


def test_audit_newest_first_and_filtered(store: SqlStore) -> None:
    store.record_compliance(at=10.0, number="+14155550100", campaign="sales", lead="L1", allowed=True, rule="",
                            reason="no rule refused")
    store.record_compliance(at=20.0, number="+14155550100", campaign="sales", lead="L1", allowed=False,
                            rule="calling-hours", reason="21:05 in America/New_York is outside calling hours")
    store.record_compliance(at=15.0, number="+12125550199", campaign=None, lead=None, allowed=False, rule="dnc",
                            reason="on the list")
    audit = store.compliance_audit()
    assert [row["at"] for row in audit] == [20.0, 15.0, 10.0]
    assert audit[0] == {"at": 20.0, "number": "+14155550100", "campaign": "sales", "lead": "L1", "allowed": False,
                        "rule": "calling-hours", "reason": "21:05 in America/New_York is outside calling hours"}
    assert audit[1]["campaign"] is None and audit[1]["lead"] is None
    assert [row["at"] for row in store.compliance_audit(number="+14155550100")] == [20.0, 10.0]
    assert [row["at"] for row in store.compliance_audit(campaign="sales", limit=1)] == [20.0]
    with pytest.raises(StoreError, match="number: empty"):
        store.record_compliance(at=1.0, number="", campaign=None, lead=None, allowed=True, rule="", reason="")


def test_lists_survive_reopening(store_target: str) -> None:
    first = open_store(store_target)
    first.dnc_add("+14155550100", list_name="blocked")
    first.close()
    again = open_store(store_target)
    assert again.dnc_lists_for("+14155550100") == {"blocked"}
    again.close()


def test_e164() -> None:
    assert e164("+44 20 7946 0000") == "+442079460000"
    assert e164("(415) 555-0100", "US") == "+14155550100"


def test_dnc_command_imports_adds_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from engine import dnc_command

    parser = argparse.ArgumentParser()
    dnc_command.add_arguments(parser)
    data = str(tmp_path / "var")
    listing = tmp_path / "complaints.txt"
    listing.write_text("+14155550100\nbad\n")

    def run(*argv: str) -> int:
        return dnc_command.run(parser.parse_args([*argv, "--data-dir", data]))

    assert run("import", str(listing), "--list", "blocked") == 0
    out = capsys.readouterr().out
    assert f"{listing}: 1 added to list blocked, 1 invalid" in out and f"{listing}:2: phone: invalid number" in out
    assert run("add", "+1 212 555 0199", "--list", "campaign:sales", "--reason", "asked") == 0
    assert capsys.readouterr().out == "+12125550199: added to list campaign:sales\n"
    assert run("check", "+14155550100") == 0 and capsys.readouterr().out == "+14155550100: blocked\n"
    assert run("check", "+12025550143") == 1
    assert run("add", "nope") == 2 and "invalid number 'nope'" in capsys.readouterr().err
    assert run("add", "+14155550100", "--list", "vip") == 2
    store = open_store(tmp_path / "var" / STORE_FILE)
    assert store.dnc_lists_for("+12125550199") == {"campaign:sales"}
    store.close()


def test_dnc_command_on_the_store_named_by_option_or_config(store_target: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from engine import dnc_command

    parser = argparse.ArgumentParser()
    dnc_command.add_arguments(parser)
    config = tmp_path / "center.toml"
    config.write_text(f"[store]\nurl = {json.dumps(store_target)}\n")
    data = str(tmp_path / "unused")
    assert dnc_command.run(parser.parse_args(["add", "+14155550100", "--store", store_target,
                                              "--data-dir", data])) == 0
    assert dnc_command.run(parser.parse_args(["check", "+14155550100", "--config", str(config),
                                              "--data-dir", data])) == 0
    assert capsys.readouterr().out.splitlines() == ["+14155550100: added to list global", "+14155550100: global"]
    assert not (tmp_path / "unused").exists()
    store = open_store(store_target)
    assert store.dnc_lists_for("+14155550100") == {"global"}
    store.close()
