"""Prompts: recorded ones win, missing ones are generated, announcements are composed once."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from engine.errors import ConfigError
from webrtc_gateway.prompts import RATE, Prompts
from webrtc_gateway.settings import Settings


def _seconds(path: str) -> float:
    with wave.open(path, "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
        return w.getnframes() / RATE


def test_recorded_prompts_win_by_language_then_name_and_missing_ones_are_generated(tmp_path: Path) -> None:
    recorded = tmp_path / "prompts"
    recorded.mkdir()
    (recorded / "main-menu-es.wav").write_bytes(b"RIFF")
    (recorded / "main-menu.ogg").write_bytes(b"OggS")
    prompts = Prompts(recorded, tmp_path / "cache")
    assert prompts.prompt("main-menu", "es") == str(recorded / "main-menu-es.wav")
    assert prompts.prompt("main-menu", "en") == str(recorded / "main-menu.ogg")
    generated = prompts.prompt("closed")
    assert generated.startswith(str(tmp_path / "cache")) and 0.3 < _seconds(generated) < 1.0
    assert prompts.prompt("closed") == generated
    assert prompts.prompt("../../etc/passwd").startswith(str(tmp_path / "cache"))  # names never escape
    assert _seconds(prompts.silence) == 1.0 and _seconds(prompts.music) > 3.0


def test_an_announcement_is_composed_from_digit_prompts_once(tmp_path: Path) -> None:
    prompts = Prompts(None, tmp_path)
    path = prompts.announcement(12, 170.0)
    assert Path(path).name == "position-12-minutes-3.wav"
    assert _seconds(path) > _seconds(prompts.prompt("digit-1"))
    assert prompts.announcement(12, 185.0) == path  # 3 minutes again: the same file
    assert Path(prompts.announcement(0, 0.0)).name == "position-1-minutes-1.wav"


def test_settings_are_checked_key_by_key() -> None:
    settings = Settings.from_section({"grace_s": 5, "stun": ["stun:stun.example.com:3478"], "loopback": True,
                                      "turn": [{"urls": "turn:t.example.com", "username": "u",
                                                "credential": "p"}]})
    assert settings.grace_s == 5.0 and settings.ice()["loopback"] is True
    assert settings.ice_servers()[0] == {"urls": "stun:stun.example.com:3478"}
    for section, problem in (({"grace_s": 0}, "seconds"), ({"workers": -1}, "whole number"),
                             ({"stun": ["http://x"]}, "stun:"), ({"turn": [{"urls": "x"}]}, "turn:"),
                             ({"colour": "blue"}, "unknown key"), ({"record": "yes"}, "true or false")):
        with pytest.raises(ConfigError) as bad:
            Settings.from_section(section)
        assert problem in str(bad.value)
    assert Settings.from_config({}) is None and Settings.from_config({}, default_on=True) == Settings()
    assert Settings.from_config({"plugins": {"webrtc": {"enabled": False}}}, default_on=True) is None
