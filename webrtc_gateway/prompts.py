"""Prompt names (+ language) to audio files, for the gateway's ``play`` commands (``docs/gateway.md``).

The files shipped with the package are in ``media_files/`` (``prompts/<language>/<name>.opus``,
``music/hold.opus``, ``tones/beep.opus``): Ogg Opus, mono (about 2 KB a second of speech: the whole set is
smaller than one minute of WAV), made by ``scripts/make_prompts.py`` from the texts of
``webrtc_gateway.prompt_texts`` (espeak-ng) and a synthesized hold-music loop; nothing is downloaded or generated
at run time. An operator replaces or adds prompts with directories of their own, searched first, laid out the same
way (``<dir>/<language>/<name>.wav``, ``.ogg`` or ``.opus``), and may name another hold-music file.

Contract of ``Prompts``:

- ``find(name, language)`` -> the file of ``name`` in ``language``, else in the default language, else ``None``
  (a name is a file name: anything with a path separator or a leading dot is ``None``, never a path outside the
  directories);
- ``files_for(action, language)`` -> the files that say what an engine action asks to play, in order (empty for an
  action that plays nothing or whose prompt is missing: the call goes on in silence, it is never failed for it);
- ``announcement(position, wait_s, language)`` composes "you are number N in line; your estimated wait is M
  minutes" from the shipped pieces (``number_pieces``);
- ``hold_music`` and ``beep`` are paths that exist.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from webrtc_gateway.prompt_texts import LANGUAGES, NUMBERS

MEDIA_DIR = Path(__file__).parent / "media_files"
PROMPTS_DIR = MEDIA_DIR / "prompts"
HOLD_MUSIC = MEDIA_DIR / "music" / "hold.opus"
BEEP = MEDIA_DIR / "tones" / "beep.opus"
EXTENSIONS = (".opus", ".ogg", ".wav")
DEFAULT_LANGUAGE = LANGUAGES[0]
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


class Prompts:
    """Resolves prompt names to files: ``dirs`` (an operator's, searched first) then the shipped ones."""

    def __init__(self, dirs: Iterable[str | Path] = (), *, default_language: str = DEFAULT_LANGUAGE,
                 hold_music: str | Path | None = None) -> None:
        self.dirs: list[Path] = [Path(d) for d in dirs] + [PROMPTS_DIR]
        self.default_language = default_language
        self.hold_music = Path(hold_music) if hold_music else HOLD_MUSIC
        self.beep = BEEP

    def find(self, name: str, language: str = "") -> Path | None:
        """The file of ``name`` in ``language`` (else the default language's), or ``None``."""
        for lang in dict.fromkeys([language or self.default_language, self.default_language, DEFAULT_LANGUAGE]):
            found = self._exact(name, lang)
            if found is not None:
                return found
        return None

    def has(self, name: str, language: str) -> bool:
        """Whether ``name`` has a file in ``language`` itself (no fallback)."""
        return self._exact(name, language) is not None

    def _exact(self, name: str, language: str) -> Path | None:
        if not (_NAME.match(name) and _LANGUAGE.match(language)):
            return None  # a name or a language is never a path: nothing outside the directories
        for root in self.dirs:
            for ext in EXTENSIONS:
                candidate = root / language / (name + ext)
                if candidate.is_file():
                    return candidate
        return None

    def files(self, names: Sequence[str], language: str) -> list[Path]:
        """The files of ``names`` (those found), in order."""
        found = (self.find(name, language) for name in names)
        return [path for path in found if path is not None]

    def language_of(self, language: str) -> str:
        """``language`` if prompts exist in it (shipped or an operator's), else the default language."""
        if any((root / language).is_dir() for root in self.dirs):
            return language
        return self.default_language

    def announcement(self, position: int, wait_s: float, language: str) -> list[Path]:
        """Position (1 = next; not said beyond 99) then estimated wait (under a minute, about one minute, N
        minutes, more than an hour)."""
        language = self.language_of(language)
        names: list[str] = []
        if position == 1:
            names.append("position-next")
        elif 1 < position < 100:
            spoken = number_pieces(position, language)
            if spoken:
                names += ["position-is", *spoken, "position-in-line"]
        names += self.wait_names(wait_s, language)
        return self.files(names, language)

    def wait_names(self, wait_s: float, language: str) -> list[str]:
        """The prompt names that say an estimated wait of ``wait_s`` seconds."""
        if not math.isfinite(wait_s) or wait_s < 60:
            return ["wait-under-a-minute"]
        minutes = round(wait_s / 60)
        if minutes <= 1:
            return ["wait-one-minute"]
        spoken = number_pieces(minutes, language) if minutes < 60 else None
        if not spoken:
            return ["wait-over-an-hour"]
        return ["wait-is", *spoken, "minutes"]

    def callback_offer(self, wait_s: float, language: str) -> list[Path]:
        """The estimated wait, then "to be called back, press 1"."""
        language = self.language_of(language)
        return self.files([*self.wait_names(wait_s, language), "callback-offer"], language)

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
            return self.announcement(action.position, action.estimated_wait_s, language)
        if isinstance(action, OfferCallback):
            return self.callback_offer(action.estimated_wait_s, language)
        if isinstance(action, PlayMessage):
            return self.files([action.message], language)
        if isinstance(action, RecordVoicemail):
            return self.voicemail_greeting(action.mailbox, action.language or language)
        if isinstance(action, StartSurvey):
            return self.files(["survey-question"], language)
        return []


def ivr_prompts(config: Any) -> set[tuple[str, str]]:
    """Every ``(prompt name, language)`` an IVR configuration (``engine.ivr.IvrConfig``) may play: its menus'
    prompts (a per-language prompt in its language, others in every language of the IVR), their failure prompts,
    the prompts of every target, the top-level ``[prompts]``; for a plugin to check at start that each has a file
    (``Prompts.missing``)."""
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
