"""The shipped prompts: every name the engine, the example IVR, the dialer and the survey use has a file in each
shipped language; the files are real Ogg Opus audio; names resolve with language fallback, never outside the
directories; announcements are composed from the pieces; an operator's directory replaces a prompt."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest

from engine.config import demo_config
from engine.dialer_events import PlayMessage
from engine.errors import ConfigError
from engine.events import OfferCallback, PlayAnnouncement, PlayPrompt
from engine.ivr import DEFAULT_PROMPTS
from engine.ivr_events import IvrPlay, RecordVoicemail
from engine.model import CampaignConfig
from engine.survey import StartSurvey
from plugins.builtin.ivr.menus import Known, load_menus
from webrtc_gateway import prompts as pm
from webrtc_gateway.prompt_texts import ANNOUNCEMENT_PIECES, LANGUAGES, PROMPTS
from webrtc_gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ACD_PROMPTS = {"closed", "unavailable", "max-wait", "overflow-full", "callback-confirmed", "transfer", "hold",
               "callback-offer"}
BUILTIN_STEPS = {"hours-open-now", "hours-closed-now"}
SURVEY = {"survey-question", "survey-thanks", "survey-invalid"}


def decode(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
        return samples.astype(float), stream.rate


def test_every_text_has_its_file_and_every_file_its_text() -> None:
    on_disk = pm.shipped()
    assert sorted(on_disk) == sorted(LANGUAGES)
    wanted = {lang: {name for name, texts in PROMPTS.items() if lang in texts} for lang in LANGUAGES}
    assert on_disk == wanted  # regenerate with `make prompts` after changing webrtc_gateway/prompt_texts.py


def test_the_names_the_engine_uses_exist_in_every_shipped_language() -> None:
    campaign = CampaignConfig(id="c", queue="sales")
    names = (set(DEFAULT_PROMPTS.values()) | ACD_PROMPTS | BUILTIN_STEPS | SURVEY | set(ANNOUNCEMENT_PIECES)
             | {campaign.abandon_message, campaign.machine_message, "voicemail-greeting"}) - {"and"}
    prompts = pm.Prompts()
    absent = [(n, lang) for n in sorted(names) for lang in LANGUAGES if not prompts.has(n, lang)]
    assert absent == []


def test_the_example_ivr_has_every_prompt_in_its_languages() -> None:
    ivr = load_menus(ROOT / "examples" / "ivr.toml", Known.from_center(demo_config()))
    wanted = pm.ivr_prompts(ivr)
    assert ("main-menu-es", "es") in wanted and ("goodbye", "en") in wanted and ("transferring", "es") in wanted
    assert ("main-menu-es", "en") not in wanted  # a per-language menu prompt is wanted in its language only
    assert pm.missing(pm.Prompts(), wanted) == []
    assert pm.missing(pm.Prompts(), {("nope", "en"), ("goodbye", "fr")}) == ["goodbye (fr)", "nope (en)"]


def test_the_files_are_short_mono_opus_with_sound() -> None:
    samples, rate = decode(pm.SILENCE)
    assert len(samples) == rate and np.abs(samples).max() < 0.01
    for path in [*sorted(pm.PROMPTS_DIR.glob("*/*.opus")), pm.HOLD_MUSIC, pm.BEEP]:
        samples, rate = decode(path)
        seconds = len(samples) / rate
        assert 0.2 < seconds <= 30, path
        peak = np.abs(samples).max() / (32768 if np.abs(samples).max() > 2 else 1)
        assert 0.1 < peak <= 1.0, path


def test_the_hold_music_is_a_16_second_loop_of_music() -> None:
    samples, rate = decode(pm.HOLD_MUSIC)
    assert abs(len(samples) / rate - 16.0) < 0.05
    rms = [np.sqrt(np.mean(samples[i * rate:(i + 1) * rate] ** 2)) for i in range(16)]
    assert min(rms) > 0.2 * max(rms)  # sound all the way through, no silent gap


def test_numbers_from_0_to_99_in_both_languages() -> None:
    prompts = pm.Prompts()
    for lang in LANGUAGES:
        for n in range(100):
            pieces = pm.number_pieces(n, lang)
            assert pieces and all(prompts.has(p, lang) for p in pieces), (n, lang)
    assert pm.number_pieces(21, "en") == ["number-20", "number-1"]
    assert pm.number_pieces(21, "es") == ["number-21"]
    assert pm.number_pieces(35, "es") == ["number-30", "and", "number-5"]
    assert pm.number_pieces(100, "en") is None and pm.number_pieces(5, "fr") is None


def names(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.stem}" for p in paths]


def test_announcements_say_position_and_wait() -> None:
    prompts = pm.Prompts()
    assert names(prompts.announcement_files(1, 30, "en")) == ["en/position-next", "en/wait-under-a-minute"]
    assert names(prompts.announcement_files(3, 70, "en")) == [
        "en/position-is", "en/number-3", "en/position-in-line", "en/wait-one-minute"]
    assert names(prompts.announcement_files(42, 5 * 60 + 10, "es")) == [
        "es/position-is", "es/number-40", "es/and", "es/number-2", "es/position-in-line",
        "es/wait-is", "es/number-5", "es/minutes"]
    assert names(prompts.announcement_files(250, 4000, "en")) == ["en/wait-over-an-hour"]
    assert names(prompts.announcement_files(2, float("inf"), "fr")) == [
        "en/position-is", "en/number-2", "en/position-in-line", "en/wait-under-a-minute"]


@pytest.mark.parametrize(("action", "expected"), [
    (IvrPlay("c1", "voice", "goodbye", "es"), ["es/goodbye"]),
    (IvrPlay("c1", "voice", "not-a-prompt", "en"), []),
    (PlayPrompt("c1", "closed"), ["en/closed"]),
    (PlayAnnouncement("c1", 1, 10.0), ["en/position-next", "en/wait-under-a-minute"]),
    (OfferCallback("c1", 600.0), ["en/wait-is", "en/number-10", "en/minutes", "en/callback-offer"]),
    (PlayMessage("k1", "abandon-message", "abandoned"), ["en/abandon-message"]),
    (RecordVoicemail("c1", "voice", "general", "es"), ["es/voicemail-greeting", "tones/beep"]),
    (StartSurvey("c1", "voice", "+1", "?", 600.0), ["en/survey-question"]),
    ("something else", []),
])
def test_files_for_engine_actions(action: object, expected: list[str]) -> None:
    assert names(pm.Prompts().files_for(action, "en")) == expected


def test_language_fallback_and_no_path_escapes(tmp_path: Path) -> None:
    prompts = pm.Prompts()
    assert prompts.find("goodbye", "fr") == pm.PROMPTS_DIR / "en" / "goodbye.opus"
    assert prompts.find("goodbye", "") == pm.PROMPTS_DIR / "en" / "goodbye.opus"
    secret = tmp_path / "secret.opus"
    secret.write_bytes(b"x")
    for name in ["../../../secret", str(secret.with_suffix("")), ".hidden", "", "en/goodbye"]:
        assert prompts.find(name, "en") is None, name
    for lang in ["../en", "en/../es", "/"]:  # not a language: the default language's file, nothing else
        assert not prompts.has("goodbye", lang)
        assert prompts.find("goodbye", lang) == pm.PROMPTS_DIR / "en" / "goodbye.opus"


def test_an_operators_directory_comes_first(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "goodbye.wav").write_bytes(b"RIFF")
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "bonjour.ogg").write_bytes(b"OggS")
    prompts = pm.Prompts(dirs=[tmp_path], hold_music=tmp_path / "music.opus")
    assert prompts.find("goodbye", "en") == tmp_path / "en" / "goodbye.wav"
    assert prompts.find("closed", "en") == pm.PROMPTS_DIR / "en" / "closed.opus"
    assert prompts.find("bonjour", "fr") == tmp_path / "fr" / "bonjour.ogg"
    assert prompts.language_of("fr") == "fr" and prompts.language_of("de") == "en"
    assert prompts.hold_music == tmp_path / "music.opus"
    assert pm.Prompts().hold_music.is_file() and pm.Prompts().beep.is_file()


def test_the_gateways_prompt_source(tmp_path: Path) -> None:
    """``prompt`` always answers a file; ``announcement`` composes one WAV once; aliases and placeholders."""
    prompts = pm.Prompts(tmp_path / "none", tmp_path / "cache")
    assert prompts.prompt("goodbye", "es") == str(pm.PROMPTS_DIR / "es" / "goodbye.opus")
    assert prompts.prompt("survey") == str(pm.PROMPTS_DIR / "en" / "survey-question.opus")
    assert prompts.prompt("thank-you", "es") == str(pm.PROMPTS_DIR / "es" / "survey-thanks.opus")
    assert prompts.prompt("hold-music") == prompts.music == str(pm.HOLD_MUSIC)
    assert prompts.prompt("silence") == prompts.silence == str(pm.SILENCE)
    odd, other = Path(prompts.prompt("no-such-prompt")), Path(prompts.prompt("another-one"))
    assert odd.parent == tmp_path / "cache" / "placeholders" and odd.is_file() and other.is_file()
    assert odd.read_bytes() != other.read_bytes()  # a pitch of its own
    assert pm.Prompts().prompt("no-such-prompt") == str(pm.SILENCE)  # no cache: nothing is written
    assert prompts.prompt("../../etc/passwd") == prompts.silence

    path = Path(prompts.announcement(3, 300, "es"))
    assert path.parent == tmp_path / "cache" / "announcements"
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        seconds = w.getnframes() / 16000
    pieces = prompts.announcement_files(3, 300, "es")
    assert abs(seconds - sum(len(decode(p)[0]) / decode(p)[1] for p in pieces)) < 0.1
    stamp = path.stat().st_mtime_ns
    assert prompts.announcement(3, 300, "es") == str(path) and path.stat().st_mtime_ns == stamp  # made once
    assert prompts.announcement(4, 300, "es") != str(path)
    prompts.prepare()


def test_an_operators_flat_directory(tmp_path: Path) -> None:
    """The ``<name>-<language>.<ext>`` and ``<name>.<ext>`` layout, and a hold-music of its own."""
    for name in ("goodbye-es.wav", "welcome.ogg", "hold-music.opus"):
        (tmp_path / name).write_bytes(b"x")
    prompts = pm.Prompts(tmp_path)
    assert prompts.find("goodbye", "es") == tmp_path / "goodbye-es.wav"
    assert prompts.find("goodbye", "en") == pm.PROMPTS_DIR / "en" / "goodbye.opus"
    assert prompts.find("welcome", "es") == pm.PROMPTS_DIR / "es" / "welcome.opus"  # a language's own first
    assert prompts.find("welcome", "fr") == pm.PROMPTS_DIR / "en" / "welcome.opus"
    (tmp_path / "custom.ogg").write_bytes(b"x")
    assert prompts.find("custom", "es") == tmp_path / "custom.ogg"
    assert prompts.music == str(tmp_path / "hold-music.opus")


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
