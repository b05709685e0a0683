"""An SMTP listener: a sans-IO server protocol (``SmtpServerProtocol``) and a thin trio TCP server around it.

Theory of operation
-------------------
``SmtpServerProtocol`` is fed the bytes a client sent (``feed``) and returns what must happen, in order: a
``Reply`` to send, or an ``Envelope`` (a complete message) to hand to the application. After an ``Envelope`` the
protocol holds further input (pipelined commands) until the application says how delivery went
(``delivered(code, text)``), which returns the reply and whatever the held input produces. No I/O, no clock.

States (``state``)::

    greet --EHLO/HELO--> ready --MAIL FROM--> mail --RCPT TO--> rcpt --DATA--> data --"."--> delivering
      ^                    ^  <------------ RSET (any state after greet) -----------------|      |
      |                    +--------------------------------- delivered(...) ------------------+
    QUIT (any state) -> closed

Supported: EHLO/HELO, MAIL FROM (with ``SIZE=``), RCPT TO, DATA with dot-unstuffing, RSET, NOOP, VRFY (252),
QUIT, pipelining (commands are taken one line at a time from the buffer), a size limit (``SIZE`` announced in
EHLO; a bigger ``SIZE=`` is refused with 552 at MAIL, and a message growing past it is read to its end and then
refused with 552). Not supported: AUTH and STARTTLS (502): the listener is meant for loopback or a trusted relay
in front of it (the MTA that receives the Internet's mail forwards to it); put TLS and authentication there.

Reply codes: 220 greeting, 221 bye, 250 ok, 252 cannot verify, 354 start mail input, 421 closing (idle), 451
local error (the application failed), 452 too many recipients, 500 syntax error / line too long, 501 bad
arguments, 502 not implemented, 503 bad sequence, 552 too big, 554 no valid recipients.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import trio

log = logging.getLogger("switchboard.smtp")

MAX_COMMAND_LINE = 512  # RFC 5321 4.5.3.1.4, CRLF included
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_RECIPIENTS = 100

_PATH = re.compile(r"^\s*<([^<>]*)>\s*(.*)$")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


@dataclass(frozen=True, slots=True)
class Reply:
    """An SMTP reply; ``lines`` > 1 makes a multi-line reply (``250-...``)."""

    code: int
    lines: tuple[str, ...]

    def encode(self) -> bytes:
        out = [f"{self.code}-{line}" for line in self.lines[:-1]] + [f"{self.code} {self.lines[-1]}"]
        return ("\r\n".join(out) + "\r\n").encode("utf-8", "replace")


def reply(code: int, *lines: str) -> Reply:
    return Reply(code, lines or ("",))


@dataclass(frozen=True, slots=True)
class Envelope:
    """A received message: the envelope sender (``""`` for bounces), recipients and the raw, unstuffed data
    (CRLF line endings, without the final ``.`` line)."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    data: bytes


Output = Reply | Envelope


@dataclass
class SmtpServerProtocol:
    """One SMTP session, sans-IO. See the module docstring."""

    hostname: str = "switchboard"
    max_size: int = DEFAULT_MAX_SIZE
    max_recipients: int = DEFAULT_MAX_RECIPIENTS
    state: str = "greet"
    helo: str = ""
    mail_from: str = ""
    rcpt_to: list[str] = field(default_factory=list)
    _buffer: bytearray = field(default_factory=bytearray)
    _data: bytearray = field(default_factory=bytearray)
    _too_big: bool = False

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    def greeting(self) -> Reply:
        return reply(220, f"{self.hostname} ESMTP Switchboard")

    def timeout(self) -> Reply:
        """The reply to send when the connection idled too long (then close it)."""
        self.state = "closed"
        return reply(421, f"{self.hostname} idle for too long, closing")

    # ---------------------------------------------------------------------------------------------- input ----

    def feed(self, data: bytes) -> list[Output]:
        """Take bytes from the client; return the replies and envelopes they produce, in order."""
        if self.state == "closed":
            return []
        self._buffer += data
        return self._process()

    def delivered(self, code: int = 250, text: str = "OK") -> list[Output]:
        """The application's verdict on the last ``Envelope``; returns the reply and what held input produces."""
        if self.state != "delivering":
            raise RuntimeError("no message is being delivered")
        self._reset_transaction()
        self.state = "ready"
        return [reply(code, text), *self._process()]

    def _process(self) -> list[Output]:
        out: list[Output] = []
        while self.state not in ("closed", "delivering"):
            end = self._buffer.find(b"\n")
            if end < 0:
                if self.state != "data" and len(self._buffer) > MAX_COMMAND_LINE:
                    self._buffer.clear()
                    out.append(reply(500, "line too long"))
                break
            line = bytes(self._buffer[:end + 1])
            del self._buffer[:end + 1]
            out.extend(self._data_line(line) if self.state == "data" else self._command(line))
        return out

    # ----------------------------------------------------------------------------------------------- data ----

    def _data_line(self, line: bytes) -> list[Output]:
        content = line.rstrip(b"\r\n")
        if content == b".":
            if self._too_big:
                self._reset_transaction()
                self.state = "ready"
                return [reply(552, f"message exceeds the size limit of {self.max_size} bytes")]
            self.state = "delivering"
            return [Envelope(self.mail_from, tuple(self.rcpt_to), bytes(self._data))]
        if content.startswith(b"."):
            content = content[1:]  # dot-unstuffing (RFC 5321 4.5.2)
        if not self._too_big:
            self._data += content + b"\r\n"
            if len(self._data) > self.max_size:
                self._too_big = True
                self._data.clear()
        return []

    # ------------------------------------------------------------------------------------------- commands ----

    def _command(self, raw: bytes) -> list[Output]:
        if len(raw) > MAX_COMMAND_LINE:
            return [reply(500, "line too long")]
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            return [reply(500, "command is not valid UTF-8")]
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        handler = {
            "EHLO": self._ehlo, "HELO": self._helo, "MAIL": self._mail, "RCPT": self._rcpt, "DATA": self._data_cmd,
            "RSET": self._rset, "NOOP": self._noop, "QUIT": self._quit, "VRFY": self._vrfy,
        }.get(verb)
        if handler is None:
            if verb in ("AUTH", "STARTTLS", "EXPN", "TURN", "ETRN", "BDAT"):
                return [reply(502, f"{verb} not implemented")]
            return [reply(500, f"command not recognized: {verb[:20]!r}")]
        return [handler(arg.strip())]

    def _reset_transaction(self) -> None:
        self.mail_from = ""
        self.rcpt_to = []
        self._data = bytearray()
        self._too_big = False

    def _ehlo(self, arg: str) -> Reply:
        if not arg:
            return reply(501, "EHLO needs a domain")
        self._reset_transaction()
        self.helo, self.state = arg, "ready"
        return reply(250, f"{self.hostname} greets {arg}", f"SIZE {self.max_size}", "8BITMIME", "PIPELINING")

    def _helo(self, arg: str) -> Reply:
        if not arg:
            return reply(501, "HELO needs a domain")
        self._reset_transaction()
        self.helo, self.state = arg, "ready"
        return reply(250, self.hostname)

    def _mail(self, arg: str) -> Reply:
        if self.state == "greet":
            return reply(503, "send EHLO or HELO first")
        if self.state != "ready":
            return reply(503, "a transaction is already open (RSET first)")
        if not arg.upper().startswith("FROM:"):
            return reply(501, "syntax: MAIL FROM:<address>")
        found = _PATH.match(arg[5:])
        if found is None or (found.group(1) and not _ADDRESS.match(found.group(1))):
            return reply(501, "syntax: MAIL FROM:<address>")
        for param in found.group(2).split():
            key, _, value = param.partition("=")
            if key.upper() == "SIZE":
                if not value.isdigit():
                    return reply(501, "SIZE needs a number")
                if int(value) > self.max_size:
                    return reply(552, f"message exceeds the size limit of {self.max_size} bytes")
        self.mail_from, self.state = found.group(1), "mail"
        return reply(250, "OK")

    def _rcpt(self, arg: str) -> Reply:
        if self.state not in ("mail", "rcpt"):
            return reply(503, "send MAIL FROM first")
        if not arg.upper().startswith("TO:"):
            return reply(501, "syntax: RCPT TO:<address>")
        found = _PATH.match(arg[3:])
        if found is None or not _ADDRESS.match(found.group(1)):
            return reply(501, "syntax: RCPT TO:<address>")
        if len(self.rcpt_to) >= self.max_recipients:
            return reply(452, "too many recipients")
        self.rcpt_to.append(found.group(1))
        self.state = "rcpt"
        return reply(250, "OK")

    def _data_cmd(self, arg: str) -> Reply:
        if self.state == "mail":
            return reply(554, "no valid recipients")
        if self.state != "rcpt":
            return reply(503, "send MAIL FROM and RCPT TO first")
        if arg:
            return reply(501, "DATA takes no argument")
        self.state = "data"
        return reply(354, "end data with <CR><LF>.<CR><LF>")

    def _rset(self, arg: str) -> Reply:
        self._reset_transaction()
        if self.state != "greet":
            self.state = "ready"
        return reply(250, "OK")

    def _noop(self, arg: str) -> Reply:
        return reply(250, "OK")

    def _vrfy(self, arg: str) -> Reply:
        return reply(252, "cannot verify, but will accept the message")

    def _quit(self, arg: str) -> Reply:
        self.state = "closed"
        return reply(221, f"{self.hostname} closing connection")


# ------------------------------------------------------------------------------------------ trio server ----

Handler = Callable[[Envelope], Awaitable[tuple[int, str]]]
"""The application: takes an envelope, returns the reply (``(250, "OK")``; a 4xx/5xx code refuses it)."""


async def _session(handler: Handler, hostname: str, max_size: int, idle_timeout_s: float,
                   stream: trio.abc.Stream) -> None:
    protocol = SmtpServerProtocol(hostname=hostname, max_size=max_size)
    try:
        await stream.send_all(protocol.greeting().encode())
        while not protocol.closed:
            with trio.move_on_after(idle_timeout_s) as idle:
                data = await stream.receive_some(65536)
            if idle.cancelled_caught:
                await stream.send_all(protocol.timeout().encode())
                break
            if not data:
                break
            pending = protocol.feed(bytes(data))
            while pending:
                item = pending.pop(0)
                if isinstance(item, Reply):
                    await stream.send_all(item.encode())
                    continue
                try:
                    code, text = await handler(item)
                except Exception:
                    log.exception("the SMTP handler failed; message refused with 451")
                    code, text = 451, "local error in processing"
                pending = protocol.delivered(code, text) + pending
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the client went away
    finally:
        await stream.aclose()


async def serve_smtp(handler: Handler, host: str = "127.0.0.1", port: int = 0, *, hostname: str = "switchboard",
                     max_size: int = DEFAULT_MAX_SIZE, idle_timeout_s: float = 300.0,
                     task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Listen on ``host:port`` until cancelled, one task per connection; ``task_status.started`` gets the bound
    port (useful with ``port=0``)."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(partial(_session, handler, hostname, max_size, idle_timeout_s), listeners)
