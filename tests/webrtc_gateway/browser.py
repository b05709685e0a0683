"""The end-to-end harness: ``switchboard serve`` with the WebRTC gateway in a subprocess, and Debian's Chromium
driven by Playwright (never ``playwright install``) with fake media devices, one browser context per person.

``running_center(tmp_path, config, files)`` starts the server on loopback (``--no-login``: agents sign in from
their desktop), creates the agent users through the admin API and yields a ``Center`` (its URL, data directory
and admin token, ``api()`` for REST calls). ``chromium()`` yields a launched browser; ``open_page`` a page in a
context of its own with every page error collected. Pages send a sine of a chosen frequency instead of the
microphone (``?testTone=HZ``, ``admin_api/static/phone.js``) and report the loudest frequency they hear
(``window.switchboardAudio``); ``wait_hears`` waits until a page hears a tone, ``tones_in`` finds tones in a WAV
recording. Every wait is bounded (Playwright's timeouts, ``Serve``'s); nothing sleeps.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.engine.test_recovery import Serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--allow-loopback-in-peer-connection"]
TIMEOUT_MS = 10_000
PASSWORD = "correct horse battery"

needs_chromium = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed "
                                    "(make test installs it: scripts/system-deps.sh)")


@dataclass
class Center:
    """A running server: ``url``, ``data_dir``, the admin ``token``, the ``serve`` process."""

    url: str
    data_dir: Path
    token: str
    serve: Serve
    errors: list[str] = field(default_factory=list)

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """A REST call as the admin (or ``token``); the decoded JSON answer (``None`` for 204)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": "Bearer " + (token or self.token), "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            text = reply.read()
        return json.loads(text) if text else None

    def wait_api(self, path: str, timeout_s: float = 15.0, until: Callable[[Any], Any] = bool) -> Any:
        """``GET path`` until it answers 200 with an answer ``until`` accepts (a 404 meanwhile: not there yet),
        asking again at each of the server's status lines (every half second)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                answer = self.api("GET", path)
                if until(answer):
                    return answer
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
            if time.monotonic() > deadline:
                raise AssertionError(f"GET {path}: not there in {timeout_s} s")
            self.serve.wait_for(r"^serve: seq=", timeout=timeout_s)  # the next status line: time has passed


@contextmanager
def running_center(tmp_path: Path, config: str, files: dict[str, str] | None = None,
                   users: dict[str, str] | None = None, seed: Callable[[Any], None] | None = None) -> Iterator[Center]:
    """``switchboard serve --config`` on ``config`` (other ``files`` written beside it), agents signed out, and a
    user per ``users`` entry (user name -> agent id, password ``PASSWORD``). ``seed(store)`` fills the server's
    store before it starts (customers, tickets for the screen pop)."""
    from engine.store import SqliteStore
    from engine.store.target import STORE_FILE

    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    (tmp_path / "center.toml").write_text(config)
    data_dir = tmp_path / "var"
    if seed is not None:
        data_dir.mkdir()
        store = SqliteStore(data_dir / STORE_FILE)
        try:
            seed(store)
        finally:
            store.close()
    serve = Serve(data_dir, "--config", str(tmp_path / "center.toml"), "--no-login", "--status-every", "0.5")
    try:
        url = serve.wait_for(r"^serve: http on (\S+)").group(1)
        serve.wait_for(r"^serve: ready")
        center = Center(url, data_dir, (data_dir / "admin-token").read_text().strip(), serve)
        for name, agent_id in (users or {}).items():
            center.api("POST", "/v1/users", {"name": name, "role": "agent", "password": PASSWORD,
                                             "agent_id": agent_id})
        yield center
    finally:
        code = serve.kill(signal.SIGTERM)
    assert code == 0, "".join(serve.stderr)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium with fake media devices, headless."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=TIMEOUT_MS * 2)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, url: str, errors: list[str]) -> Any:
    """A page in a context of its own (its own sessionStorage, as another person's browser)."""
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(f"{url}: {error}"))
    page.goto(url)
    return page


def sign_in(page: Any, user: str) -> None:
    page.fill("#login-form input[name=username]", user)
    page.fill("#login-form input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


def _wait_audio(page: Any, test: str, arg: Any, timeout_ms: int, polls: int = 3) -> None:
    """Until ``test`` (a JavaScript expression of ``a``, the page's ``window.switchboardAudio``, and ``arg``) holds
    for ``polls`` polls in a row, 100 ms apart."""
    page.wait_for_function(
        f"""arg => {{
              const a = window.switchboardAudio;
              const ok = !!a && ({test});
              window.__audioRun = ok ? (window.__audioRun || 0) + 1 : 0;
              return window.__audioRun >= {polls};
            }}""", arg=arg, polling=100, timeout=timeout_ms)


def wait_hears(page: Any, hz: float, timeout_ms: int = TIMEOUT_MS, for_s: float = 0.3) -> None:
    """Until ``page`` has heard a tone of ``hz`` (its loudest frequency, within 25 Hz) for ``for_s`` seconds."""
    _wait_audio(page, "a.hears(arg)", hz, timeout_ms + int(for_s * 1000), polls=max(3, round(for_s * 10)))


HOLD_MUSIC_NOTES = [174.6, 196.0, 220.0, 261.6, 329.6, 349.2, 392.0, 440.0, 493.9, 523.3, 587.3, 659.3, 784.0]
"""The notes of the shipped hold music (``scripts/make_prompts.py``: C, Am, F and G chords, their arpeggios)."""


def wait_hears_music(page: Any, timeout_ms: int = TIMEOUT_MS) -> None:
    """Until the loudest thing ``page`` hears is a note of the hold music, half a second in a row."""
    _wait_audio(page, "(p => !!p && p.db > -70 && arg.some(hz => Math.abs(p.hz - hz) <= 8))(a.peak())",
                HOLD_MUSIC_NOTES, timeout_ms, polls=5)


def wait_not_hears(page: Any, hz: float, timeout_ms: int = TIMEOUT_MS) -> None:
    """Until the loudest thing ``page`` hears is not a tone of ``hz`` (silence, music, another tone)."""
    _wait_audio(page, "!a.hears(arg)", hz, timeout_ms)


def wait_hears_each(page: Any, hzs: list[float], timeout_ms: int = TIMEOUT_MS, min_db: float = -60) -> None:
    """Until ``page`` hears every tone of ``hzs`` at once (a mix: each above ``min_db`` near its frequency)."""
    _wait_audio(page, f"arg.every(hz => a.level(hz) > {min_db})", hzs, timeout_ms)


def wait_lacks(page: Any, hz: float, timeout_ms: int = TIMEOUT_MS, max_db: float = -70) -> None:
    """Until nothing ``page`` hears near ``hz`` is above ``max_db`` (whatever else it hears)."""
    _wait_audio(page, f"a.level(arg) < {max_db}", hz, timeout_ms)


def wait_hears_sound(page: Any, timeout_ms: int = TIMEOUT_MS) -> None:
    """Until ``page`` hears anything (a prompt, music) above -70 dB."""
    _wait_audio(page, "(p => !!p && p.db > -70)(a.peak())", None, timeout_ms)


def wait_silence(page: Any, timeout_ms: int = TIMEOUT_MS) -> None:
    """Until ``page`` hears nothing above -70 dB."""
    _wait_audio(page, "(p => !p || !(p.db > -70))(a.peak())", None, timeout_ms)


def tones_in(path: Path, wanted: list[float], window_s: float = 0.25) -> dict[float, float]:
    """For each frequency of ``wanted``: the share of the ``window_s`` windows of the WAV file in which some channel
    has it at least 20 dB above that window's median level between 100 Hz and 4 kHz (a tone, not noise)."""
    with wave.open(str(path)) as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    assert width == 2, f"{path}: {width * 8}-bit samples"
    samples = np.frombuffer(raw, dtype="<i2").reshape(-1, channels).T.astype(float)
    size = int(window_s * rate)
    freqs = np.fft.rfftfreq(size, 1 / rate)
    band = (freqs >= 100) & (freqs <= 4000)
    counts = dict.fromkeys(wanted, 0)
    windows = samples.shape[1] // size
    assert windows > 0, f"{path}: {samples.shape[1] / rate:.2f} s, shorter than one window"
    for i in range(windows):
        seen: set[float] = set()
        for channel in samples:
            chunk = channel[i * size:(i + 1) * size]
            if len(chunk) < size:
                continue
            level = 20 * np.log10(np.abs(np.fft.rfft(chunk * np.hanning(size))) + 1e-9)
            floor = np.median(level[band])
            seen |= {hz for hz in wanted if level[np.abs(freqs - hz) <= 15].max() >= floor + 20}
        for hz in seen:
            counts[hz] += 1
    return {hz: n / windows for hz, n in counts.items()}
