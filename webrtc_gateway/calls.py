"""The gateway's calls: web callers' legs, agents' phone lines, bridges, hold, mute, consultation, supervision,
recording and prompts, as a sans-IO state machine.

Theory of operation
-------------------
``Calls`` is told what happens (an engine action for a contact it owns, a media event, an agent's request) at
the engine's time ``now``, changes its state and returns *effects*, which the plugin (``webrtc_gateway.plugin``)
carries out in order:

- ``Media(cmd)``: a media control command (``webrtc_gateway.protocol``, without ``rid``) for the pool;
- ``Send(to, frame)``: a signalling frame for ``("agent", agent_id)``, ``("caller", contact_id)`` or
  ``("supervisor", supervisor_id)``;
- ``Submit(event, to)``: an event for the engine (``to="engine"``) or for the IVR service (``to="ivr"``);
- ``Ring(contact_id, address, timeout_s)``: ring the web caller registered as ``address`` for a contact already
  connected to an agent (a preview dial, a callback); the plugin answers with ``rung`` / ``ring_failed``;
- ``Digits(contact_id)``: a digit collection of the contact is complete (the plugin wakes the waiting hook).

It owns no socket and awaits nothing; it reads no clock. Timers (``next_deadline()``, ``tick(now)``) end an
outbound ring that nobody answers, a goodbye prompt that never reports its end, and a survey nobody answers.

A caller (``Caller``) is one web caller's leg, inbound (``/webrtc/ws/caller``) or outbound (a dialer's
``webrtc:ADDRESS``)::

    phase     meaning                              leaves by
    ringing   outbound: the browser is rung        answered -> queued; no answer / declined -> gone
    ivr       in the IVR (prompts, digits)         routed -> queued; left -> gone
    queued    waiting for an agent (hold music)    offer -> offered; hang-up action -> closing
    offered   an agent is rung (music goes on)     bridge -> connected; offer cancelled -> queued
    connected bridged with an agent's line         unbridge -> queued; hang-up -> closing / survey
    survey    the satisfaction question, 1 digit   digit or timeout -> closing
    closing   a last prompt plays, then the leg    play.done or timer -> gone (leg closed)
              is closed

What the caller hears is derived, never set by hand (``_converge``): a prompt being played (they queue and play
to their end), else hold music while waiting for an agent or on hold, else silence while the agent is muted, else
the agent (the bridge). The agent's line hears silence while the call is on hold. Hold and mute therefore keep
the bridge (and its recording) up; taking the agent off the call (transfer, consultation, line replaced)
unbridges, and the next bridge records into a new segment (``<contact>.wav``, ``<contact>-2.wav``, ...): the
contact's record carries ``recording`` (the first) and ``recordings`` (all).

Ownership: a contact is ours when its caller is here, or when an offer names a ``webrtc:`` callback number (a
preview dial, a callback to a web caller). Methods return ``None`` for contacts that are not ours, so another
voice adapter (the simulator) takes them.

Security: an agent's request about a contact (hold, hang up, transfer, wrap up...) is refused unless that agent
is the one the contact is offered to or connected with (``CallError("forbidden")``), so a browser never acts on
another agent's call; supervision is checked by the socket (team scope) before it reaches ``supervise``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.dialer_events import CallAnswered, CalleeHungUp, CallFailed, Dial, DropCall, PlayMessage
from engine.events import (
    AgentNotReady,
    AgentReady,
    Bridge,
    CallbackRequested,
    CancelOffer,
    CustomerHungUp,
    Event,
    HangUp,
    OfferAccepted,
    OfferCallback,
    OfferContact,
    PlayAnnouncement,
    PlayPrompt,
    TransferRequested,
    Unbridge,
)
from engine.ivr_events import CallerLeft, IvrPlay
from engine.survey import StartSurvey, SurveyAnswered

WEBRTC_PREFIX = "webrtc:"
GOODBYE_MAX_S = 15.0
"""The longest a last prompt may play before the leg is closed anyway."""
SURVEY_ANSWER_S = 10.0
"""How long the survey waits for its digit."""
KEPT_SURVEYS = 10_000

Recipient = tuple[str, str]


class CallError(Exception):
    """A request refused; ``code`` (``forbidden``, ``refused``, ``unknown``) and the reason, for the sender."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


# ------------------------------------------------------------------------------------------------ effects ----

@dataclass(frozen=True, slots=True)
class Media:
    cmd: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Send:
    to: Recipient
    frame: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Submit:
    event: Event
    to: str = "engine"


@dataclass(frozen=True, slots=True)
class Ring:
    contact_id: str
    address: str
    timeout_s: float


@dataclass(frozen=True, slots=True)
class Digits:
    contact_id: str


Effect = Media | Send | Submit | Ring | Digits


class PromptSource(Protocol):
    """Where the audio comes from (``webrtc_gateway.prompts.Prompts``): file paths the media workers can read."""

    music: str
    silence: str

    def prompt(self, name: str, language: str = "") -> str: ...

    def announcement(self, position: int, wait_s: float) -> str: ...


# ------------------------------------------------------------------------------------------------- state ----

@dataclass
class Caller:
    """One web caller's leg and the contact it is (see the module docstring for ``phase``)."""

    contact_id: str
    leg: str
    inbound: bool
    phase: str
    customer: str = ""
    address: str = ""
    agent: str = ""
    queue: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    bridge: str | None = None
    held: bool = False
    muted: bool = False
    playing: tuple[str, str] | None = None  # (play id, "music" | "silence" | "prompt")
    prompts: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    digits: str = ""
    collecting: int = 0  # digits wanted by a collection in progress (0: none)
    deadline: float | None = None
    consult: str = ""  # the agent consulted while this caller is held
    supervisors: dict[str, tuple[str, str]] = field(default_factory=dict)  # supervisor -> (leg, mode)
    ring_pending: bool = False  # a preview / callback bridge waits for the web caller to answer
    auto_accept: str = ""  # the agent whose offer of this contact is accepted for it (consultation done)
    dialer: bool = False  # a dialer's call (Dial): before an agent has it, the dialer hears of its end
    callback_number: str = ""  # where a callback would reach this caller ("": no callback offered)
    callback_offered: bool = False
    screen_pop: dict[str, Any] = field(default_factory=dict)


@dataclass
class Line:
    """One agent's phone line: its leg (one per session) and the call on it."""

    agent_id: str
    leg: str | None = None
    up: bool = False
    contact: str = ""
    held_play: str | None = None  # the silence played to the line while its call is on hold
    consulting: str = ""  # as the target of a consultation: the contact it is about
    consult_bridge: str | None = None


class Calls:
    """See the module docstring. ``prompts``: the audio; ``record_path(contact_id, segment)``: where a bridge
    records (``None``: no recording); ``surveyed(queue)``: whether the queue asks the survey."""

    def __init__(self, prompts: PromptSource, *, record_path: Callable[[str, int], str | None] | None = None,
                 surveyed: Callable[[str], bool] | None = None) -> None:
        self.prompts = prompts
        self.record_path = record_path or (lambda contact_id, segment: None)
        self.surveyed = surveyed or (lambda queue: False)
        self.callers: dict[str, Caller] = {}
        self.lines: dict[str, Line] = {}
        self.by_leg: dict[str, tuple[str, str]] = {}  # leg -> ("caller", contact) | ("line", agent) | ("sup", id)
        self.survey_answers: dict[str, int] = {}
        self.ended: dict[str, dict[str, Any]] = {}  # contact -> what its record gets, until the record comes
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------------------------------ queries ----

    def owns(self, contact_id: str) -> bool:
        return contact_id in self.callers or contact_id in self.ended

    def caller(self, contact_id: str) -> Caller | None:
        return self.callers.get(contact_id)

    def line(self, agent_id: str) -> Line:
        line = self.lines.get(agent_id)
        if line is None:
            line = self.lines[agent_id] = Line(agent_id)
        return line

    def call_of(self, agent_id: str) -> dict[str, Any] | None:
        """The live call of ``agent_id`` as the agent page shows it on resume, or ``None``."""
        line = self.lines.get(agent_id)
        c = self.callers.get(line.contact) if line is not None and line.contact else None
        if c is None or c.agent != agent_id or c.phase != "connected":
            return None
        return {"contact_id": c.contact_id, "queue": c.queue, "customer": c.customer, "held": c.held,
                "muted": c.muted, "consulting": c.consult or None}

    def next_deadline(self) -> float | None:
        deadlines = [c.deadline for c in self.callers.values() if c.deadline is not None]
        return min(deadlines, default=None)

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    # ------------------------------------------------------------------------------------- caller side ----

    def add_caller(self, contact_id: str, leg: str, *, inbound: bool, phase: str, customer: str = "",
                   address: str = "", deadline: float | None = None, dialer: bool = False,
                   callback_number: str = "", screen_pop: dict[str, Any] | None = None) -> Caller:
        """A web caller's leg exists (created by the plugin): ``phase`` ``ivr`` or ``queued`` (inbound), or
        ``ringing`` until ``deadline`` (a dialer's call, ``dialer=True``)."""
        c = Caller(contact_id, leg, inbound, phase, customer=customer, address=address, deadline=deadline,
                   dialer=dialer, callback_number=callback_number, screen_pop=dict(screen_pop or {}))
        self.callers[contact_id] = c
        self.by_leg[leg] = ("caller", contact_id)
        return c

    def ringing(self, contact_id: str, leg: str, address: str, deadline: float) -> list[Effect]:
        """The web caller of a preview dial or callback (``Ring``) is being rung on ``leg`` until ``deadline``."""
        c = self.callers.get(contact_id)
        if c is None or c.phase != "ringing":
            return [Media({"t": "leg.close", "leg": leg})]
        c.leg, c.address, c.deadline = leg, address, deadline
        self.by_leg[leg] = ("caller", contact_id)
        return []

    def routed(self, contact_id: str, queue: str, now: float) -> list[Effect]:
        """The caller is in the ACD's hands now (routed by the IVR, or answered an outbound call): hold music."""
        c = self.callers.get(contact_id)
        if c is None or c.phase in ("closing", "survey"):
            return []
        c.phase, c.deadline = "queued", None
        c.queue = queue or c.queue
        c.collecting, c.digits = 0, ""
        return self._converge(c)

    def answered(self, contact_id: str, now: float) -> list[Effect]:
        """An outbound call's browser answered. A dialer call is then queued by the engine (``CallAnswered``);
        a preview / callback one is bridged to its agent at once."""
        c = self.callers.get(contact_id)
        if c is None or c.phase != "ringing":
            return []
        c.deadline = None
        if c.ring_pending:
            c.ring_pending = False
            c.phase = "connected"
            return [Send(("agent", c.agent), {"type": "connected", "contact_id": c.contact_id}),
                    *self._bridge(c)]
        c.phase = "queued"
        return [Submit(CallAnswered(contact_id, "human")), *self._converge(c)]

    def caller_gone(self, contact_id: str, reason: str, now: float) -> list[Effect]:
        """The caller hung up, closed the page, declined, or its media was lost: the leg is closed and the engine
        told in the words of where the contact is (``CallerLeft`` in the IVR, ``CallFailed`` / ``CalleeHungUp``
        for a dial not yet with an agent, ``CustomerHungUp`` otherwise)."""
        c = self.callers.get(contact_id)
        if c is None:
            return []
        out: list[Effect] = []
        if c.phase == "ivr":
            out.append(Submit(CallerLeft(contact_id), "ivr"))
        elif c.phase == "ringing" and not c.ring_pending:
            out.append(Submit(CallFailed(contact_id, "busy" if reason == "declined" else "no-answer")))
        elif c.phase in ("ringing", "queued", "offered", "connected"):
            if c.agent and c.phase in ("connected", "ringing"):
                said = "caller-hung-up" if reason in ("caller-hung-up", "socket-closed") else reason
                out.append(Send(("agent", c.agent), {"type": "ended", "contact_id": contact_id, "reason": said}))
            waiting_dial = c.dialer and c.phase in ("queued", "offered")
            out.append(Submit(CalleeHungUp(contact_id) if waiting_dial else CustomerHungUp(contact_id)))
        out += self._finish(c, reason)
        return out

    # ------------------------------------------------------------------------------------- engine side ----

    def offer(self, action: OfferContact, now: float) -> list[Effect] | None:
        """``OfferContact``: ring the agent's desktop (``None``: not ours)."""
        c = self.callers.get(action.contact_id)
        callback = action.callback_number or ""
        if c is None and not callback.startswith(WEBRTC_PREFIX):
            return None
        if c is None:  # a preview lead or a callback to a web caller: ours from now on, no leg yet
            c = Caller(action.contact_id, "", inbound=False, phase="queued", customer=action.customer)
            self.callers[action.contact_id] = c
        c.agent, c.queue, c.data = action.agent_id, action.queue, dict(action.data)
        if c.phase == "queued":
            c.phase = "offered"
        ivr = action.data.get("ivr")
        frame: dict[str, Any] = {
            "type": "offer-contact", "contact_id": action.contact_id, "queue": action.queue,
            "deadline": action.deadline, "customer": action.customer,
            "screen_pop": {k: c.screen_pop.get(k) for k in ("customer", "history", "tickets")},
            "ivr_path": list(ivr.get("path", [])) if isinstance(ivr, dict) else [],
            "ivr_digits": list(ivr.get("digits", [])) if isinstance(ivr, dict) else [],
        }
        if "lead" in action.data:
            frame["lead"] = {"campaign": action.data.get("campaign"), "id": action.data.get("lead"),
                             "fields": action.data.get("fields", {}), "number": callback or action.customer,
                             "preview": bool(action.data.get("preview"))}
        out: list[Effect] = [Send(("agent", action.agent_id), frame)]
        if c.auto_accept == action.agent_id:  # the target of a completed consultation takes it at once
            c.auto_accept = ""
            out.append(Submit(OfferAccepted(action.agent_id, action.contact_id)))
        return out

    def cancel_offer(self, action: CancelOffer, now: float) -> list[Effect] | None:
        c = self.callers.get(action.contact_id)
        if c is None:
            return None
        if c.agent == action.agent_id and c.phase == "offered":
            c.phase, c.agent = "queued", ""
        return [Send(("agent", action.agent_id), {"type": "ended", "contact_id": action.contact_id,
                                                  "reason": f"offer-{action.reason}"})]

    def bridge(self, action: Bridge, now: float) -> list[Effect] | None:
        """``Bridge``: the caller's leg and the agent's line (a callback number first rings the web caller)."""
        c = self.callers.get(action.contact_id)
        if c is None:
            return None
        c.agent = action.agent_id
        self.line(action.agent_id).contact = c.contact_id
        if not c.leg:  # preview / callback: ring the web caller first
            number = action.callback_number or ""
            if not number.startswith(WEBRTC_PREFIX):
                return None
            c.ring_pending, c.phase = True, "ringing"
            return [Send(("agent", action.agent_id), {"type": "dialing", "contact_id": c.contact_id,
                                                      "number": number}),
                    Ring(c.contact_id, number[len(WEBRTC_PREFIX):], 30.0)]
        c.phase = "connected"
        c.held = c.muted = False
        return [Send(("agent", action.agent_id), {"type": "connected", "contact_id": c.contact_id}),
                Send(("caller", c.contact_id), {"type": "status", "text": "connected"}),
                *self._bridge(c)]

    def unbridge(self, action: Unbridge, now: float) -> list[Effect] | None:
        """``Unbridge``: the agent is taken off (transfer, agent lost); the caller waits again, with music."""
        c = self.callers.get(action.contact_id)
        if c is None:
            return None
        out = self._drop_agent(c, "transferred")
        c.phase = "queued"
        out += self._converge(c)
        out.append(Send(("caller", c.contact_id), {"type": "status", "text": "please hold"}))
        return out

    def play(self, action: Any, now: float) -> list[Effect] | None:
        """``PlayPrompt``, ``PlayAnnouncement``, ``OfferCallback``, ``IvrPlay``: queued prompts, hold music
        between them."""
        c = self.callers.get(getattr(action, "contact_id", ""))
        if c is None or not c.leg:
            return None if c is None else []
        out: list[Effect] = []
        if isinstance(action, PlayAnnouncement):
            path = self.prompts.announcement(action.position, action.estimated_wait_s)
            minutes = max(1, round(action.estimated_wait_s / 60))
            out.append(Send(("caller", c.contact_id), {
                "type": "status", "text": f"you are number {action.position} in line, about {minutes} min",
                "position": action.position, "estimated_wait_s": action.estimated_wait_s}))
        elif isinstance(action, IvrPlay):
            path = self.prompts.prompt(action.prompt, action.language)
        elif isinstance(action, PlayPrompt):
            path = self.prompts.prompt(action.prompt)
        elif isinstance(action, OfferCallback):
            if not c.callback_number or c.phase not in ("queued", "offered"):
                return []  # no number to call back: the caller just keeps waiting
            c.callback_offered = True
            c.digits = ""
            path = self.prompts.prompt("callback-offer")
            out.append(Send(("caller", c.contact_id), {"type": "status",
                                                       "text": "press 1 to be called back instead of waiting"}))
        else:
            return None
        c.prompts.append(path)
        return out + self._converge(c)

    def hang_up(self, action: HangUp, now: float) -> list[Effect] | None:
        """``HangUp``: the engine ends the caller's side; a prompt being played is let finish. After an agent's
        hang-up on a surveyed queue the caller is asked the survey first."""
        c = self.callers.get(action.contact_id)
        if c is None:
            return None
        out: list[Effect] = []
        if c.agent:
            out.append(Send(("agent", c.agent), {"type": "ended", "contact_id": c.contact_id,
                                                 "reason": action.reason}))
            out += self._drop_agent(c, action.reason, tell=False)
        if not c.leg:
            return out + self._finish(c, action.reason)
        if action.reason == "agent-hangup" and self.surveyed(c.queue):
            c.phase, c.deadline = "survey", now + SURVEY_ANSWER_S
            c.digits, c.collecting = "", 1
            c.prompts.append(self.prompts.prompt("survey"))
            out.append(Send(("caller", c.contact_id), {"type": "status",
                                                       "text": "survey: press 1 (not at all) to 5 (very)"}))
            return out + self._converge(c)
        return out + self._closing(c, now, action.reason)

    def survey(self, action: StartSurvey, now: float) -> list[Effect] | None:
        """``StartSurvey`` after the contact's record: the answer taken at hang-up, if any, goes to the engine."""
        if action.contact_id not in self.survey_answers and not self.owns(action.contact_id):
            return None
        score = self.survey_answers.pop(action.contact_id, None)
        return [] if score is None else [Submit(SurveyAnswered(action.contact_id, score))]

    def contact_ended(self, contact_id: str) -> dict[str, Any] | None:
        """The contact's record is out: what it gets (``recording``, ``recordings``); the contact is forgotten."""
        data = self.ended.pop(contact_id, None)
        if data is None:
            c = self.callers.get(contact_id)
            if c is None:
                return None
            data = self._record_data(c)
        return data

    # ----------------------------------------------------------------------------------------- dialer ----

    def dial_failed(self, action: Dial) -> list[Effect]:
        """A ``Dial`` to a web caller that is not registered (no browser to ring)."""
        return [Submit(CallFailed(action.call_id, "failed"))]

    def dial_message(self, action: PlayMessage | DropCall, now: float) -> list[Effect] | None:
        """The dialer is done with a call no agent takes: play its message (abandoned, machine), then hang up."""
        c = self.callers.get(action.call_id)
        if c is None:
            return None
        if isinstance(action, PlayMessage) and c.leg:
            c.prompts.append(self.prompts.prompt(action.message))
        return self._closing(c, now, action.reason)

    # ------------------------------------------------------------------------------------------- media ----

    def media_event(self, event: dict[str, Any], now: float) -> list[Effect]:
        """An event of a caller's leg (``play.done``, ``dtmf``, ``leg.state``, ``leg.media_lost``); events of
        agents' lines and supervisors' legs are the plugin's (it knows the sessions)."""
        owner = self.by_leg.get(event.get("leg", ""))
        if owner is None or owner[0] != "caller":
            return []
        c = self.callers.get(owner[1])
        if c is None:
            return []
        kind = event["t"]
        if kind == "play.done":
            if c.playing is not None and c.playing[0] == event["play"]:
                c.playing = None
                if c.phase == "closing" and not c.prompts:
                    return self._finish(c, "done")
                return self._converge(c)
            return []
        if kind == "dtmf":
            return self._digit(c, event["digit"], now)
        if kind == "leg.media_lost" or (kind == "leg.state" and event["state"] in ("failed", "closed")):
            reason = "media-lost" if kind == "leg.media_lost" else f"leg-{event['state']}"
            return [Send(("caller", c.contact_id), {"type": "ended", "reason": reason}),
                    *self.caller_gone(c.contact_id, reason, now)]
        return []

    def collect(self, contact_id: str, max_digits: int) -> str | None:
        """Start collecting up to ``max_digits`` (``channel_collect_digits``); the digits if already typed ahead
        (``None``: wait for ``Digits(contact_id)`` or the timeout, then call ``collected``)."""
        c = self.callers.get(contact_id)
        if c is None:
            return ""
        if len(c.digits) >= max_digits:
            return self.collected(contact_id, max_digits)
        c.collecting = max_digits
        return None

    def collected(self, contact_id: str, max_digits: int | None = None) -> str:
        """End a collection: the digits collected (possibly ``""``), consumed."""
        c = self.callers.get(contact_id)
        if c is None:
            return ""
        n = max_digits or c.collecting or len(c.digits)
        digits, c.digits = c.digits[:n], c.digits[n:]
        c.collecting = 0
        return digits

    def _digit(self, c: Caller, digit: str, now: float) -> list[Effect]:
        if c.phase == "survey":
            if digit in "12345" and c.contact_id not in self.survey_answers:
                self.survey_answers[c.contact_id] = int(digit)
                while len(self.survey_answers) > KEPT_SURVEYS:
                    self.survey_answers.pop(next(iter(self.survey_answers)))
                c.prompts = [self.prompts.prompt("thank-you")]
                return self._closing(c, now, "survey-answered", restart=True)
            return []
        if c.phase not in ("ivr", "queued", "offered"):
            return []
        if c.callback_offered and c.phase in ("queued", "offered"):
            c.callback_offered = False
            if digit == "1":
                return [Submit(CallbackRequested(c.contact_id, c.callback_number))]
            return []
        c.digits = (c.digits + digit)[-32:]
        out: list[Effect] = []
        if c.collecting and len(c.digits) >= c.collecting:
            out.append(Digits(c.contact_id))
        if c.playing is not None and c.playing[1] == "prompt" and c.phase == "ivr":  # barge-in: stop the prompt
            out.append(Media({"t": "stop", "leg": c.leg, "play": c.playing[0]}))
            c.playing = None
            c.prompts.clear()
        return out

    # ------------------------------------------------------------------------------------------ timers ----

    def tick(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        for c in [c for c in self.callers.values() if c.deadline is not None and c.deadline <= now]:
            c.deadline = None
            if c.phase == "ringing":
                out.append(Send(("caller", c.contact_id), {"type": "incoming-cancelled", "call_id": c.contact_id,
                                                           "reason": "no-answer"}))
                if c.ring_pending:  # the agent waited for a web caller who did not answer
                    out += self.caller_gone(c.contact_id, "no-answer", now)
                else:
                    out.append(Submit(CallFailed(c.contact_id, "no-answer")))
                    out += self._finish(c, "no-answer")
            elif c.phase == "survey":
                out += self._closing(c, now, "survey-unanswered")
            elif c.phase == "closing":
                out += self._finish(c, "done")
        return out

    # ----------------------------------------------------------------------------------- agent requests ----

    def _agent_call(self, agent_id: str, contact_id: str, *phases: str) -> Caller:
        c = self.callers.get(contact_id)
        if c is None:
            raise CallError("unknown", f"no call {contact_id!r} here")
        if c.agent != agent_id:
            raise CallError("forbidden", f"call {contact_id!r} is not yours")
        if phases and c.phase not in phases:
            raise CallError("refused", f"call {contact_id!r} is {c.phase}")
        return c

    def check_agent(self, agent_id: str, contact_id: str) -> None:
        """``CallError`` unless ``agent_id`` is offered or connected to ``contact_id`` (contacts not ours pass:
        the engine judges them)."""
        if contact_id in self.callers:
            self._agent_call(agent_id, contact_id)

    def hold(self, agent_id: str, contact_id: str, on: bool) -> list[Effect]:
        c = self._agent_call(agent_id, contact_id, "connected")
        if c.consult:
            raise CallError("refused", "the call is held for a consultation: complete or cancel it")
        c.held = on
        return self._converge(c) + self._line_audio(c)

    def mute(self, agent_id: str, contact_id: str, on: bool) -> list[Effect]:
        c = self._agent_call(agent_id, contact_id, "connected")
        c.muted = on
        return self._converge(c)

    def consult(self, agent_id: str, contact_id: str, target: str, target_ready: bool) -> list[Effect]:
        """A consultative transfer begins: the caller is held (music, off the agent's line) and ``target`` is
        asked (``consult`` frame). ``target_ready``: the target has a live line and no call (the plugin knows)."""
        c = self._agent_call(agent_id, contact_id, "connected")
        if c.consult:
            raise CallError("refused", f"already consulting {c.consult}")
        if target == agent_id or not target_ready:
            raise CallError("refused", f"agent {target!r} cannot take a consultation now")
        c.consult = target
        self.line(target).consulting = contact_id
        out = self._unbridge(c)
        out += self._converge(c)
        out.append(Send(("agent", target), {"type": "consult", "contact_id": contact_id, "from": agent_id,
                                            "queue": c.queue, "customer": c.customer}))
        return out

    def consult_answer(self, target: str, contact_id: str, accepted: bool) -> list[Effect]:
        """The consulted agent accepts (its line is bridged with the consulting agent's) or declines (the caller
        is given back to the consulting agent)."""
        c = self.callers.get(contact_id)
        if c is None or c.consult != target:
            raise CallError("forbidden", f"no consultation about {contact_id!r} for you")
        if not accepted:
            return [Send(("agent", c.agent), {"type": "consult-declined", "contact_id": contact_id, "by": target}),
                    *self._end_consult(c, give_back=True)]
        line, mine = self.line(target), self.line(c.agent)
        if not (line.leg and mine.leg):
            return [Send(("agent", c.agent), {"type": "consult-declined", "contact_id": contact_id,
                                              "by": target, "reason": "no line"}),
                    *self._end_consult(c, give_back=True)]
        line.consult_bridge = self._id("k")
        return [Submit(AgentNotReady(target, "consult")),
                Media({"t": "bridge", "bridge": line.consult_bridge, "a": mine.leg, "b": line.leg, "record": None}),
                Send(("agent", c.agent), {"type": "consulting", "contact_id": contact_id, "with": target}),
                Send(("agent", target), {"type": "consulting", "contact_id": contact_id, "with": c.agent})]

    def consult_end(self, agent_id: str, contact_id: str, complete: bool) -> list[Effect]:
        """The consulting agent completes (a transfer to the consulted agent, who takes the call at once) or
        cancels (the caller is back with it)."""
        c = self._agent_call(agent_id, contact_id, "connected")
        if not c.consult:
            raise CallError("refused", "no consultation in progress")
        target = c.consult
        if not complete:
            return [Send(("agent", target), {"type": "consult-ended", "contact_id": contact_id,
                                             "reason": "cancelled"}), *self._end_consult(c, give_back=True)]
        c.auto_accept = target
        out = self._end_consult(c, give_back=False, ready=False)
        out.append(Submit(TransferRequested(agent_id, contact_id, to_agent=target)))
        out.append(Submit(AgentReady(target)))
        return out

    def _end_consult(self, c: Caller, *, give_back: bool, ready: bool = True) -> list[Effect]:
        """End the consultation of ``c``: the consulted agent, made not-ready "consult" while it talked, is made
        ready again (unless ``ready`` is false: the caller does it after its transfer); ``give_back``: the caller
        is bridged back to its agent."""
        target = self.line(c.consult)
        out: list[Effect] = []
        if target.consult_bridge is not None:
            out.append(Media({"t": "unbridge", "bridge": target.consult_bridge}))
            target.consult_bridge = None
            if ready:
                out.append(Submit(AgentReady(target.agent_id)))
        target.consulting = ""
        c.consult = ""
        if give_back:
            out += self._bridge(c)
        return out

    # --------------------------------------------------------------------------------------- supervision ----

    def supervise(self, supervisor: str, agent_id: str, leg: str, mode: str) -> list[Effect]:
        """A supervisor's leg joins the call of ``agent_id`` in ``mode`` (listen, whisper, barge)."""
        line = self.lines.get(agent_id)
        c = self.callers.get(line.contact) if line is not None and line.contact else None
        if c is None or c.agent != agent_id or c.phase != "connected":
            raise CallError("refused", f"agent {agent_id!r} is not on a call")
        self.by_leg[leg] = ("sup", supervisor)
        c.supervisors[supervisor] = (leg, mode)
        out: list[Effect] = []
        if c.bridge is not None:
            out.append(Media({"t": "supervise", "bridge": c.bridge, "leg": leg, "mode": mode}))
        if mode != "listen":
            out.append(Send(("agent", agent_id), {"type": "supervisor", "contact_id": c.contact_id, "mode": mode,
                                                  "supervisor": supervisor}))
        return out

    def supervising(self, supervisor: str) -> str | None:
        """The contact ``supervisor`` supervises now, if any."""
        return next((c.contact_id for c in self.callers.values() if supervisor in c.supervisors), None)

    def supervise_mode(self, supervisor: str, mode: str) -> list[Effect]:
        """Switch a supervisor between listen, whisper and barge (its leg stays)."""
        for c in self.callers.values():
            if supervisor in c.supervisors:
                leg, old = c.supervisors[supervisor]
                c.supervisors[supervisor] = (leg, mode)
                out: list[Effect] = []
                if c.bridge is not None:
                    out += [Media({"t": "unsupervise", "bridge": c.bridge, "leg": leg}),
                            Media({"t": "supervise", "bridge": c.bridge, "leg": leg, "mode": mode})]
                if c.agent and (mode != "listen" or old != "listen"):
                    out.append(Send(("agent", c.agent), {"type": "supervisor", "contact_id": c.contact_id,
                                                         "mode": None if mode == "listen" else mode,
                                                         "supervisor": supervisor}))
                return out
        raise CallError("refused", "the supervised call has ended")

    def unsupervise(self, supervisor: str) -> list[Effect]:
        """The supervisor leaves (stop, socket closed): its leg is closed."""
        for c in self.callers.values():
            if supervisor in c.supervisors:
                return self._drop_supervisor(c, supervisor, tell=False)
        return []

    def _drop_supervisor(self, c: Caller, supervisor: str, *, tell: bool = True) -> list[Effect]:
        leg, mode = c.supervisors.pop(supervisor)
        self.by_leg.pop(leg, None)
        out: list[Effect] = []
        if c.bridge is not None:
            out.append(Media({"t": "unsupervise", "bridge": c.bridge, "leg": leg}))
        out.append(Media({"t": "leg.close", "leg": leg}))
        if tell:
            out.append(Send(("supervisor", supervisor), {"type": "ended", "contact_id": c.contact_id}))
        if mode != "listen" and c.agent:
            out.append(Send(("agent", c.agent), {"type": "supervisor", "contact_id": c.contact_id,
                                                 "mode": None, "supervisor": supervisor}))
        return out

    # ---------------------------------------------------------------------------------------- agent lines ----

    def line_leg(self, agent_id: str, leg: str | None) -> list[Effect]:
        """The agent's line is (now) ``leg`` (``None``: gone). A live call is bridged to the new leg; the old leg's
        bridge ends."""
        line = self.line(agent_id)
        out: list[Effect] = []
        old = line.leg
        if old is not None and old != leg:
            self.by_leg.pop(old, None)
            c = self.callers.get(line.contact)
            if c is not None and c.bridge is not None and c.agent == agent_id:
                out += self._unbridge(c)
            if line.consult_bridge is not None:
                out.append(Media({"t": "unbridge", "bridge": line.consult_bridge}))
                line.consult_bridge = None
            out.append(Media({"t": "leg.close", "leg": old}))
        line.leg, line.up = leg, False  # up when its media connects (line_state)
        line.held_play = None
        if leg is not None:
            self.by_leg[leg] = ("line", agent_id)
            c = self.callers.get(line.contact)
            if c is not None and c.agent == agent_id and c.phase == "connected" and c.bridge is None \
                    and not c.consult:
                out += self._bridge(c)
        return out

    def line_state(self, agent_id: str, up: bool) -> list[Effect]:
        """The line's media came up or went down (the session's grace covers a lost line; the caller hears music
        meanwhile)."""
        line = self.line(agent_id)
        line.up = up
        c = self.callers.get(line.contact)
        return [] if c is None or c.agent != agent_id else self._converge(c)

    def forget_line(self, agent_id: str) -> list[Effect]:
        """The agent's session is over: its line leg is closed (its calls are the engine's to re-queue)."""
        line = self.lines.pop(agent_id, None)
        if line is None or line.leg is None:
            return []
        self.by_leg.pop(line.leg, None)
        out: list[Effect] = []
        c = self.callers.get(line.contact)
        if c is not None and c.agent == agent_id and c.bridge is not None:
            out += self._unbridge(c)
            out += self._converge(c)
        if line.consult_bridge is not None:
            out.append(Media({"t": "unbridge", "bridge": line.consult_bridge}))
        out.append(Media({"t": "leg.close", "leg": line.leg}))
        return out

    # ----------------------------------------------------------------------------------------- internals ----

    def _bridge(self, c: Caller) -> list[Effect]:
        line = self.lines.get(c.agent)
        if line is None or line.leg is None or not c.leg:
            return self._converge(c)  # music until the agent's line is there (line_leg bridges it then)
        c.bridge = self._id("b")
        path = self.record_path(c.contact_id, len(c.recordings) + 1)
        if path is not None:
            c.recordings.append(path)
        out: list[Effect] = [Media({"t": "bridge", "bridge": c.bridge, "a": c.leg, "b": line.leg, "record": path})]
        for leg, mode in c.supervisors.values():
            out.append(Media({"t": "supervise", "bridge": c.bridge, "leg": leg, "mode": mode}))
        return out + self._converge(c) + self._line_audio(c)

    def _unbridge(self, c: Caller) -> list[Effect]:
        out: list[Effect] = []
        if c.bridge is not None:
            out.append(Media({"t": "unbridge", "bridge": c.bridge}))
            c.bridge = None
        line = self.lines.get(c.agent)
        if line is not None and line.held_play is not None and line.leg is not None:
            out.append(Media({"t": "stop", "leg": line.leg, "play": line.held_play}))
            line.held_play = None
        return out

    def _let_go(self, c: Caller, reason: str) -> list[Effect]:
        """The agent's side of a call comes apart: supervisors leave, a consultation ends, the bridge goes, the
        agent's line is free."""
        out: list[Effect] = []
        for supervisor in list(c.supervisors):
            out += self._drop_supervisor(c, supervisor)
        if c.consult:
            out.append(Send(("agent", c.consult), {"type": "consult-ended", "contact_id": c.contact_id,
                                                   "reason": reason}))
            out += self._end_consult(c, give_back=False)
        out += self._unbridge(c)
        line = self.lines.get(c.agent) if c.agent else None
        if line is not None and line.contact == c.contact_id:
            line.contact = ""
        return out

    def _drop_agent(self, c: Caller, reason: str, *, tell: bool = True) -> list[Effect]:
        """The agent leaves the call (transfer, hang-up, agent lost)."""
        out = self._let_go(c, reason)
        if c.agent and tell:
            out.append(Send(("agent", c.agent), {"type": "ended", "contact_id": c.contact_id, "reason": reason}))
        c.agent, c.held, c.muted = "", False, False
        return out

    def _line_audio(self, c: Caller) -> list[Effect]:
        """The agent's line hears silence while the call is on hold."""
        line = self.lines.get(c.agent)
        if line is None or line.leg is None:
            return []
        if c.held and c.bridge is not None and line.held_play is None:
            line.held_play = self._id("p")
            return [Media({"t": "play", "leg": line.leg, "media": self.prompts.silence, "play": line.held_play,
                           "loop": True})]
        if not c.held and line.held_play is not None:
            play, line.held_play = line.held_play, None
            return [Media({"t": "stop", "leg": line.leg, "play": play})]
        return []

    def _background(self, c: Caller) -> str | None:
        """What the caller hears when no prompt plays: ``music``, ``silence`` or ``None`` (the bridge / nothing)."""
        if c.phase in ("queued", "offered"):
            return "music"
        if c.phase == "connected":
            line = self.lines.get(c.agent)
            if c.held or c.consult or c.bridge is None or line is None or not line.up:
                return "music"
            return "silence" if c.muted else None
        return None

    def _converge(self, c: Caller) -> list[Effect]:
        """Make what the caller hears agree with its state (see the module docstring)."""
        if not c.leg:
            return []
        out: list[Effect] = []
        if c.playing is not None and c.playing[1] == "prompt":
            return out  # a prompt plays to its end; play.done converges again
        if c.prompts:
            if c.playing is not None:
                out.append(Media({"t": "stop", "leg": c.leg, "play": c.playing[0]}))
            play = self._id("p")
            c.playing = (play, "prompt")
            out.append(Media({"t": "play", "leg": c.leg, "media": c.prompts.pop(0), "play": play, "loop": False}))
            return out
        want = self._background(c)
        have = c.playing[1] if c.playing is not None else None
        if want == have:
            return out
        if c.playing is not None:
            out.append(Media({"t": "stop", "leg": c.leg, "play": c.playing[0]}))
            c.playing = None
        if want is not None:
            play = self._id("p")
            c.playing = (play, want)
            media = self.prompts.music if want == "music" else self.prompts.silence
            out.append(Media({"t": "play", "leg": c.leg, "media": media, "play": play, "loop": True}))
        return out

    def _closing(self, c: Caller, now: float, reason: str, *, restart: bool = False) -> list[Effect]:
        """Hang the caller up once the prompts queued for it have played (at most ``GOODBYE_MAX_S``)."""
        if restart and c.playing is not None:
            out: list[Effect] = [Media({"t": "stop", "leg": c.leg, "play": c.playing[0]})]
            c.playing = None
        else:
            out = []
        if c.playing is not None and c.playing[1] != "prompt":
            out.append(Media({"t": "stop", "leg": c.leg, "play": c.playing[0]}))
            c.playing = None
        c.phase, c.collecting = "closing", 0
        if not c.prompts and c.playing is None:
            return out + self._finish(c, reason)
        c.deadline = now + GOODBYE_MAX_S
        return out + self._converge(c)

    def _finish(self, c: Caller, reason: str) -> list[Effect]:
        """The caller's leg is closed and the caller forgotten (its record data kept until the record)."""
        out = self._let_go(c, reason)
        if c.leg:
            out.append(Media({"t": "leg.close", "leg": c.leg}))
            self.by_leg.pop(c.leg, None)
            out.append(Send(("caller", c.contact_id), {"type": "ended", "reason": reason}))
        del self.callers[c.contact_id]
        self.ended[c.contact_id] = self._record_data(c)
        while len(self.ended) > KEPT_SURVEYS:
            self.ended.pop(next(iter(self.ended)))
        c.phase, c.deadline = "gone", None
        return out

    @staticmethod
    def _record_data(c: Caller) -> dict[str, Any]:
        data: dict[str, Any] = {"source": "webrtc"}
        if c.recordings:
            data["recording"] = c.recordings[0]
            data["recordings"] = list(c.recordings)
        return data
