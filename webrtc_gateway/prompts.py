"""Prompt names (+ language) to audio files, for the gateway's ``play`` commands (``docs/gateway.md``, "Prompts").

The files shipped with the package are in ``media_files/``: ``prompts/<language>/<name>.opus``,
``music/hold.opus``, ``tones/beep.opus``, ``tones/silence.opus``. Ogg Opus, mono (about 2 KB a second of speech:
the whole set is smaller than a minute of WAV), made by ``scripts/make_prompts.py`` (``make prompts``) from the
texts of ``webrtc_gateway.prompt_texts`` with espeak-ng, and a synthesized hold-music loop; nothing is downloaded
or generated at run time. An operator's directory is searched first, laid out either way:
``<dir>/<language>/<name>.<ext>`` or ``<dir>/<name>-<language>.<ext>``, then ``<dir>/<name>.<ext>``
(``.opus``, ``.ogg``, ``.wav``); a ``hold-music`` file there replaces the music.

Contract of ``Prompts(directory, cache)`` (the gateway's ``PromptSource``: ``music``, ``silence``, ``prompt``,
``announcement``; blocking file I/O of a few kilobytes, done at start by ``prepare`` or once per new file):

- ``prompt(name, language)`` -> always a readable file: the prompt in ``language``, else in the default
  language, else (a name nobody recorded) a short chime generated into ``cache`` whose pitch comes from the name,
  so the caller hears that something was meant and tests can tell prompts apart; without a ``cache``, silence.
  A name or language is never a path: nothing outside the directories is returned.
- ``announcement(position, wait_s, language)`` -> one file (16 kHz mono WAV in ``cache``, made once per
  distinct sentence) saying "you are number N in line; your estimated wait is M minutes", composed from the shipped
  pieces (``announcement_names``); ``announcement_files`` gives the pieces instead (for a player that queues
  files).
- ``files_for(action, language)`` -> the files an engine action asks to play, in order (empty for an action that
  plays nothing).
- ``music`` (hold music) and ``silence`` are paths (``str``) that exist; ``beep`` is the voicemail tone.
"""

from __future__ import annotations

import hashlib
import math
import re
import wave
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from webrtc_gateway.prompt_texts import LANGUAGES, NUMBERS

MEDIA_DIR = Path(__file__).parent / "media_files"
PROMPTS_DIR = MEDIA_DIR / "prompts"
HOLD_MUSIC = MEDIA_DIR / "music" / "hold.opus"
BEEP = MEDIA_DIR / "tones" / "beep.opus"
SILENCE = MEDIA_DIR / "tones" / "silence.opus"
EXTENSIONS = (".opus", ".ogg", ".wav")
DEFAULT_LANGUAGE = LANGUAGES[0]
RATE = 16000
"""Sample rate of the files this module writes (composed announcements, placeholders)."""
ALIASES = {"survey": "survey-question", "thank-you": "survey-thanks"}
"""Other names the gateway uses for shipped prompts."""
STANDARD = ("hold-music", "silence", "survey", "thank-you", "callback-offer", "closed", "goodbye")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_LANGUAGE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


def number_pieces(n: int, language: str) -> list[str] | None:
    """The prompt names that say ``n`` (0..99) in ``language``; ``None`` when it cannot be said with the shipped
    numbers (out of range, or a language without numbers)."""
    words = NUMBERS.get(language)
    if words is None or not 0 <= n < 100:
        return None
    if n in words:
        return [f"number-{n}"]
    tens, unit = n // 10 * 10, n % 10
    if tens not in words or unit not in words:
        return None
    glue = ["and"] if language == "es" else []
    return [f"number-{tens}", *glue, f"number-{unit}"]


def wait_names(wait_s: float, language: str) -> list[str]:
    """The prompt names that say an estimated wait of ``wait_s`` seconds: under a minute, about one minute, N
    minutes, more than an hour."""
    if not math.isfinite(wait_s) or wait_s < 60:
        return ["wait-under-a-minute"]
    minutes = round(wait_s / 60)
    if minutes <= 1:
        return ["wait-one-minute"]
    spoken = number_pieces(minutes, language) if minutes < 60 else None
    if not spoken:
        return ["wait-over-an-hour"]
    return ["wait-is", *spoken, "minutes"]


def announcement_names(position: int, wait_s: float, language: str) -> list[str]:
    """Position (1 = next; not said beyond 99) then the estimated wait."""
    names: list[str] = []
    if position == 1:
        names.append("position-next")
    elif 1 < position < 100:
        spoken = number_pieces(position, language)
        if spoken:
            names += ["position-is", *spoken, "position-in-line"]
    return names + wait_names(wait_s, language)


class Prompts:
    """See the module docstring. ``directory`` / ``dirs``: an operator's prompts (missing is fine), searched
    before the shipped ones; ``cache``: where composed and generated files go (``None``: nothing is written)."""

    def __init__(self, directory: str | Path | None = None, cache: str | Path | None = None, *,
                 dirs: Iterable[str | Path] = (), default_language: str = DEFAULT_LANGUAGE,
                 hold_music: str | Path | None = None) -> None:
        own = [Path(directory)] if directory else []
        self.dirs: list[Path] = own + [Path(d) for d in dirs] + [PROMPTS_DIR]
        self.cache = Path(cache) if cache else None
        self.default_language = default_language
        music = Path(hold_music) if hold_music else self._exact("hold-music", "", flat=True)
        self.hold_music: Path = music or HOLD_MUSIC
        self.beep = BEEP
        self.music = str(self.hold_music)
        self.silence = str(SILENCE)

    # ------------------------------------------------------------------------------------------ lookup ----

    def _exact(self, name: str, language: str, *, flat: bool = False) -> Path | None:
        """``name`` in ``language`` itself (``flat``: the language-less ``<dir>/<name>.<ext>`` of an operator's
        directory), or ``None``."""
        if not _NAME.match(name) or not (flat or _LANGUAGE.match(language)):
            return None  # a name or a language is never a path: nothing outside the directories
        for root in self.dirs:
            if flat:
                stems = [root / name] if root != PROMPTS_DIR else []
            else:
                stems = [root / language / name] + ([root / f"{name}-{language}"] if root != PROMPTS_DIR else [])
            for stem in stems:
                for ext in EXTENSIONS:
                    candidate = stem.with_name(stem.name + ext)
                    if candidate.is_file():
                        return candidate
        return None

    def find(self, name: str, language: str = "") -> Path | None:
        """The file of ``name`` in ``language``, else in the default language, else an operator's language-less
        file; ``None`` if there is none."""
        name = ALIASES.get(name, name)
        for lang in dict.fromkeys([language or self.default_language, self.default_language, DEFAULT_LANGUAGE]):
            found = self._exact(name, lang)
            if found is not None:
                return found
        return self._exact(name, "", flat=True)

    def has(self, name: str, language: str) -> bool:
        """Whether ``name`` has a file in ``language`` itself (no fallback)."""
        return self._exact(ALIASES.get(name, name), language) is not None

    def files(self, names: Sequence[str], language: str) -> list[Path]:
        """The files of ``names`` (those found), in order."""
        found = (self.find(name, language) for name in names)
        return [path for path in found if path is not None]

    def language_of(self, language: str) -> str:
        """``language`` if prompts exist in it (shipped or an operator's), else the default language."""
        if language and _LANGUAGE.match(language) and any((root / language).is_dir() for root in self.dirs):
            return language
        return self.default_language

    # ---------------------------------------------------------------------------------- PromptSource ----

    def prompt(self, name: str, language: str = "") -> str:
        """Always a file (see the module docstring)."""
        if name == "hold-music":
            return self.music
        if name == "silence":
            return self.silence
        found = self.find(name, language)
        if found is not None:
            return str(found)
        if self.cache is None or not _NAME.match(name):
            return self.silence
        path = self.cache / "placeholders" / f"{name}.wav"
        if not path.is_file():
            _write_wav(path, _chime(name))
        return str(path)

    def prepare(self, names: Sequence[str] = STANDARD) -> None:
        """Resolve ``names`` now (placeholders are made at start, not during a call)."""
        for name in names:
            self.prompt(name)

    def announcement_files(self, position: int, wait_s: float, language: str = "") -> list[Path]:
        """The pieces of the announcement, in order."""
        language = self.language_of(language)
        return self.files(announcement_names(position, wait_s, language), language)

    def announcement(self, position: int, wait_s: float, language: str = "") -> str:
        """One file saying position and wait (see the module docstring); the pieces' first file without a
        ``cache``."""
        pieces = self.announcement_files(position, wait_s, language)
        if self.cache is None or not pieces:
            return str(pieces[0]) if pieces else self.silence
        key = hashlib.sha1("\n".join(map(str, pieces)).encode()).hexdigest()[:16]
        path = self.cache / "announcements" / f"{key}.wav"
        if not path.is_file():
            _write_wav(path, b"".join(_decode(p) for p in pieces))
        return str(path)

    # ----------------------------------------------------------------------------------- engine actions ----

    def callback_offer(self, wait_s: float, language: str) -> list[Path]:
        """The estimated wait, then "to be called back, press 1"."""
        language = self.language_of(language)
        return self.files([*wait_names(wait_s, language), "callback-offer"], language)

    def voicemail_greeting(self, mailbox: str, language: str) -> list[Path]:
        """The mailbox's own greeting (``voicemail-<mailbox>``) or the general one, then the beep."""
        greeting = self.find(f"voicemail-{mailbox}", language) or self.find("voicemail-greeting", language)
        return [p for p in (greeting, self.beep) if p is not None]

    def files_for(self, action: Any, language: str = "") -> list[Path]:
        """The files that play what ``action`` asks (engine actions; see the module docstring)."""
        from engine.dialer_events import PlayMessage
        from engine.events import OfferCallback, PlayAnnouncement, PlayPrompt
        from engine.ivr_events import IvrPlay, RecordVoicemail
        from engine.survey import StartSurvey

        if isinstance(action, IvrPlay):
            return self.files([action.prompt], action.language or language)
        if isinstance(action, PlayPrompt):
            return self.files([action.prompt], language)
        if isinstance(action, PlayAnnouncement):
            return self.announcement_files(action.position, action.estimated_wait_s, language)
        if isinstance(action, OfferCallback):
            return self.callback_offer(action.estimated_wait_s, language)
        if isinstance(action, PlayMessage):
            return self.files([action.message], language)
        if isinstance(action, RecordVoicemail):
            return self.voicemail_greeting(action.mailbox, action.language or language)
        if isinstance(action, StartSurvey):
            return self.files(["survey-question"], language)
        return []


# ----------------------------------------------------------------------------------------- checking ----

def ivr_prompts(config: Any) -> set[tuple[str, str]]:
    """Every ``(prompt name, language)`` an IVR configuration (``engine.ivr.IvrConfig``) may play: its menus'
    prompts (a per-language prompt in its language, others in every language of the IVR), their failure prompts,
    the prompts of every target, the top-level ``[prompts]``; for a plugin to check at start that each has a file
    (``missing``)."""
    languages = sorted(config.languages) or [config.default_language]
    names: set[tuple[str, str]] = set()

    def every(name: str) -> None:
        if name:
            names.update((name, lang) for lang in languages)

    def target(t: Any) -> None:
        while t is not None:
            every(t.prompt)
            t = t.then

    for menu in config.menus.values():
        for lang, name in menu.prompt.items():
            if lang:
                names.add((name, lang))
            else:
                every(name)
        every(menu.invalid_prompt)
        every(menu.timeout_prompt)
        target(menu.default)
        for option in menu.options.values():
            target(option)
    for t in (config.closed, config.operator, config.fallback):
        target(t)
    for name in config.prompts.values():
        every(name)
    return names


def missing(prompts: Prompts, wanted: Iterable[tuple[str, str]]) -> list[str]:
    """``"name (language)"`` for each wanted prompt without a file in its own language (falling back to the
    default language would speak to the caller in another one), sorted."""
    return [f"{name} ({lang})" for name, lang in sorted(wanted) if not prompts.has(name, lang)]


def shipped() -> dict[str, set[str]]:
    """The shipped prompt names by language (what is on disk in ``media_files/prompts``)."""
    out: dict[str, set[str]] = {}
    for lang_dir in sorted(p for p in PROMPTS_DIR.iterdir() if p.is_dir()):
        out[lang_dir.name] = {f.stem for f in lang_dir.iterdir() if f.suffix in EXTENSIONS}
    return out


# --------------------------------------------------------------------------------------------- audio ----

def _decode(path: Path) -> bytes:
    """The file's audio as 16 kHz mono 16-bit PCM (PyAV: any format the workers play)."""
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    out = bytearray()
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for chunk in resampler.resample(frame):
                out += bytes(chunk.planes[0])[:chunk.samples * 2]
    for chunk in resampler.resample(None):
        out += bytes(chunk.planes[0])[:chunk.samples * 2]
    return bytes(out)


def _chime(name: str) -> bytes:
    """Two short tones whose pitch comes from ``name`` (a prompt nobody recorded), 16-bit PCM at ``RATE``."""
    import array

    pitch = 440.0 + (zlib.crc32(name.encode()) % 24) * 20.0
    samples = array.array("h")
    for freq, seconds in ((pitch, 0.18), (pitch * 1.25, 0.18), (0.0, 0.15)):
        n = int(seconds * RATE)
        ramp = int(0.01 * RATE)
        for i in range(n):
            edge = min(1.0, i / ramp, (n - 1 - i) / ramp)
            samples.append(int(0.25 * edge * math.sin(2 * math.pi * freq * i / RATE) * 32767) if freq else 0)
    return samples.tobytes()


def _write_wav(path: Path, pcm: bytes) -> None:
    """16 kHz mono 16-bit WAV, written to a temporary name then moved (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    with wave.open(str(temp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    temp.replace(path)
