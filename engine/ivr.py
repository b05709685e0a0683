"""The IVR: a sans-IO state machine that walks callers through menus and hands them to the ACD.

Theory of operation
-------------------
``Ivr(config).feed(event, now)`` takes one event (``engine.ivr_events``, or ``engine.events.Tick``) and the time,
changes the state of that caller's *session* and returns the actions the outside world must carry out (play,
collect digits, look the caller up, run a self-service step, record a voicemail, route, hang up). It never awaits,
never reads a clock and draws no random numbers: the same events at the same times give the same actions.
``snapshot()``/``restore()`` turn the sessions into plain msgpack-able data and back; the configuration is not in
the snapshot (restore into an ``Ivr`` built with the same ``IvrConfig``).

One session per contact, from ``CallerEntered`` until the IVR routes it (``IvrRouted``), sends it to voicemail
(``RecordVoicemail``), hangs up (``HangUp``) or the caller leaves (``CallerLeft``). On entry the business hours
are checked (``IvrConfig.hours``, weekly ranges in a time zone plus holidays): closed means the ``closed`` target
(a prompt, then voicemail, hang-up, a menu or a queue). Open: the caller is looked up in the CRM if ``lookup`` is
set, then enters the ``entry`` menu. A session is always in one of three waiting states, each with a deadline
(``next_deadline()``; ``feed(Tick(), now)`` fires what is due), so nothing gets stuck::

    state          answer                 -> next                  deadline passes (TIMEOUT) -> next
    lookup         CallerIdentified       -> entry menu            entry menu, without CRM attributes
    collecting     DigitsReceived         -> the option's target   a timeout failure (as DigitsReceived(""))
    self-service   SelfServiceDone        -> result's next/then    failure: fallback prompt and queue

An event that does not fit the session's state (late digits after the IVR moved on, an answer for a contact that
left) is stale and ignored: it returns no action. A duplicate ``CallerEntered`` raises ``IvrError``.

Menus: the prompt (per language) is played, then ``CollectDigits``. Digits matching an option run its target;
anything else is *invalid*, nothing (``""``) is a *timeout*: both play their prompt and count as a failure; after
``retries`` failures the next one runs the menu's ``default`` target instead of asking again. Targets: ``menu``
(enter a submenu), ``queue``/``workflow`` (route, with skills and priority), ``self-service`` (a step run by a
plugin; on success its result may play prompts, set variables and say where to go next, else the step's ``then``;
on failure or timeout the caller goes to the ``fallback`` queue), ``voicemail``, ``repeat`` (the prompt again,
not a failure), ``back`` (the previous menu), ``operator`` (the configured operator target), ``language`` (set the
caller's language, then enter a menu) and ``hangup``. Any target may carry a ``prompt`` played before it runs.

Routing (``IvrRouted``): skills are the union (highest level wins) of the skills of the menus on the way (the
stack that ``back`` unwinds), of the target, and of the caller's language; priority is the target's, raised to
the priority of every rule whose CRM attribute matches (``vip = true`` -> 10); ``data`` is the channel's data
plus ``data["ivr"]``: the menus visited, the digits, the language, the variables and the CRM attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.config import is_open
from engine.errors import SwitchboardError
from engine.events import Action, Event, HangUp, Tick
from engine.ivr_events import (
    CallerEntered,
    CallerIdentified,
    CallerLeft,
    CollectDigits,
    DigitsReceived,
    IvrPlay,
    IvrRouted,
    LookupCaller,
    RecordVoicemail,
    RunSelfService,
    SelfServiceDone,
)
from engine.model import OpenHours

TARGET_KINDS = ("menu", "queue", "workflow", "self-service", "voicemail", "repeat", "back", "operator", "hangup",
                "language")
DEFAULT_PROMPTS = {"invalid": "invalid", "timeout": "no-input", "goodbye": "goodbye", "closed": "closed",
                   "failure": "self-service-failed"}
COLLECT_GRACE_S = 5.0
"""The IVR's own guard after a digit collection's timeout, for a channel that never answers ``CollectDigits``
(a well-behaved channel answers ``""`` at the timeout, long before)."""


class IvrError(SwitchboardError):
    """An event the IVR cannot accept (a contact entering twice). The state is unchanged when this is raised."""


# ------------------------------------------------------------------------------------------ configuration ----

@dataclass(frozen=True, slots=True)
class Target:
    """What an option (or a default, the closed hours, the operator...) does. ``kind`` is one of
    ``TARGET_KINDS``; ``name`` is the menu, queue, workflow, self-service step, mailbox or language code;
    ``menu`` is the menu a ``language`` target enters next; ``skills``/``priority`` go into routing; ``prompt`` is
    played first; ``then`` is where a successful self-service step goes when its result names no ``next``."""

    kind: str
    name: str = ""
    menu: str = ""
    skills: dict[str, int] = field(default_factory=dict)
    priority: int = 0
    prompt: str = ""
    then: Target | None = None


@dataclass(frozen=True, slots=True)
class Menu:
    """A menu: ``prompt`` by language code (key ``""``: any language), ``options`` by digits, ``timeout_s`` to
    wait for input, ``retries`` failures allowed before ``default``, ``skills`` added to routing on the way."""

    id: str
    prompt: dict[str, str]
    options: dict[str, Target]
    timeout_s: float = 5.0
    retries: int = 2
    default: Target = Target("hangup", prompt="goodbye")
    skills: dict[str, int] = field(default_factory=dict)
    invalid_prompt: str = ""
    timeout_prompt: str = ""

    @property
    def max_digits(self) -> int:
        return max((len(d) for d in self.options), default=1)


@dataclass(frozen=True, slots=True)
class Language:
    """A language the IVR speaks; ``skill`` (at ``level``) is required of the agent when a caller chose it."""

    code: str
    skill: str = ""
    level: int = 1


@dataclass(frozen=True, slots=True)
class PriorityRule:
    """A caller whose CRM attribute ``attribute`` equals ``equals`` gets at least ``priority``."""

    attribute: str
    equals: Any = True
    priority: int = 10


@dataclass(frozen=True, slots=True)
class IvrConfig:
    """A whole IVR (``plugins/builtin/ivr/menus.py`` loads one from TOML; ``docs/ivr.md`` has every key)."""

    entry: str
    menus: dict[str, Menu]
    languages: dict[str, Language] = field(default_factory=dict)
    default_language: str = "en"
    hours: OpenHours | None = None
    closed: Target = Target("hangup", prompt="closed")
    lookup: bool = False
    lookup_timeout_s: float = 3.0
    self_service_timeout_s: float = 10.0
    operator: Target | None = None
    fallback: Target | None = None
    priority_rules: tuple[PriorityRule, ...] = ()
    prompts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PROMPTS))

    def prompt(self, name: str) -> str:
        return self.prompts.get(name) or DEFAULT_PROMPTS[name]


# ---------------------------------------------------------------------------------------------- sessions ----

LOOKUP, COLLECTING, SELF_SERVICE = "lookup", "collecting", "self-service"
TIMEOUT = "timeout"  # the pseudo-event of a deadline passing, in the transition table


class _Session:
    """Mutable state of one caller. ``stack``: menus entered and not backed out of (top = current); ``trail``:
    every menu entered, in order; ``pending``: ``[menu, key]`` of the self-service target being run."""

    __slots__ = ("contact_id", "channel", "caller", "customer", "language", "data", "attributes", "variables",
                 "stack", "trail", "digits", "state", "attempts", "deadline", "pending", "entered")

    def __init__(self, contact_id: str, channel: str, caller: str, language: str, data: dict[str, Any],
                 entered: float) -> None:
        self.contact_id = contact_id
        self.channel = channel
        self.caller = caller
        self.customer = ""
        self.language = language
        self.data = data
        self.attributes: dict[str, Any] = {}
        self.variables: dict[str, Any] = {}
        self.stack: list[str] = []
        self.trail: list[str] = []
        self.digits: list[str] = []
        self.state = ""
        self.attempts = 0
        self.deadline: float | None = None
        self.pending: list[str] = []
        self.entered = entered

    def to_dict(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Session:
        s = cls(data["contact_id"], data["channel"], data["caller"], data["language"], dict(data["data"]),
                data["entered"])
        for name in cls.__slots__:
            setattr(s, name, _plain(data[name]))
        return s


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _merge(into: dict[str, int], skills: dict[str, int]) -> None:
    for name, level in skills.items():
        into[name] = max(level, into.get(name, 0))


# --------------------------------------------------------------------------------------------------- IVR ----

class Ivr:
    """The state machine. See the module docstring."""

    def __init__(self, config: IvrConfig) -> None:
        self.config = config
        self.sessions: dict[str, _Session] = {}
        # (state, event kind) -> handler. Everything that decides a transition is reachable from here.
        self._transitions: dict[tuple[str, Any], Callable[[_Session, Any, float], list[Action]]] = {
            (LOOKUP, CallerIdentified): self._identified,
            (LOOKUP, TIMEOUT): self._lookup_timeout,
            (COLLECTING, DigitsReceived): self._digits,
            (COLLECTING, TIMEOUT): self._collect_timeout,
            (SELF_SERVICE, SelfServiceDone): self._self_service_done,
            (SELF_SERVICE, TIMEOUT): self._self_service_timeout,
        }

    # ------------------------------------------------------------------------------------------ public ----

    def validate(self, event: Event) -> None:
        """Raise ``IvrError`` if ``feed`` would refuse ``event``."""
        if isinstance(event, CallerEntered) and event.contact_id in self.sessions:
            raise IvrError(f"contact {event.contact_id!r} is already in the IVR")

    def feed(self, event: Event, now: float) -> list[Action]:
        """Apply ``event`` at time ``now``; return the actions to carry out, in order."""
        self.validate(event)
        if isinstance(event, Tick):
            return self._tick(now)
        if isinstance(event, CallerEntered):
            return self._entered(event, now)
        session = self.sessions.get(getattr(event, "contact_id", ""))
        if session is None:
            return []  # stale: the caller left or was already routed
        if isinstance(event, CallerLeft):
            del self.sessions[session.contact_id]
            return []
        handler = self._transitions.get((session.state, type(event)))
        if handler is None:
            return []  # stale: an answer the session no longer waits for
        return handler(session, event, now)

    def next_deadline(self) -> float | None:
        """The earliest deadline of any session (``None``: nothing to wait for)."""
        # A linear scan: IVR sessions are few (callers in menus) compared with the ACD's contacts.
        return min((s.deadline for s in self.sessions.values() if s.deadline is not None), default=None)

    def snapshot(self) -> dict[str, Any]:
        """Every session as plain data (msgpack-able); ``restore`` takes it back."""
        return {"sessions": [self.sessions[cid].to_dict() for cid in sorted(self.sessions)]}

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the sessions with those of a ``snapshot()`` (taken with the same configuration)."""
        sessions = [_Session.from_dict(d) for d in data["sessions"]]
        for s in sessions:
            if s.stack and any(m not in self.config.menus for m in s.stack):
                raise IvrError(f"snapshot of {s.contact_id!r} names a menu this configuration lacks")
        self.sessions = {s.contact_id: s for s in sessions}

    # ------------------------------------------------------------------------------------ transitions ----

    def _tick(self, now: float) -> list[Action]:
        due = sorted((s.deadline, cid) for cid, s in self.sessions.items()
                     if s.deadline is not None and s.deadline <= now)
        out: list[Action] = []
        for _, cid in due:
            session = self.sessions.get(cid)
            if session is not None:
                session.deadline = None
                out.extend(self._transitions[(session.state, TIMEOUT)](session, None, now))
        return out

    def _entered(self, event: CallerEntered, now: float) -> list[Action]:
        language = event.language if event.language in self.config.languages else self.config.default_language
        s = _Session(event.contact_id, event.channel, event.caller, language, dict(event.data), now)
        self.sessions[s.contact_id] = s
        hours = self.config.hours
        if hours is not None and not is_open(hours, now):
            s.variables["closed"] = True
            return self._run(s, self.config.closed, now)
        if self.config.lookup and s.caller:
            s.state, s.deadline = LOOKUP, now + self.config.lookup_timeout_s
            return [LookupCaller(s.contact_id, s.caller)]
        return self._enter(s, self.config.entry, now)

    def _identified(self, s: _Session, event: CallerIdentified, now: float) -> list[Action]:
        s.customer = event.customer
        s.attributes = dict(event.attributes)
        return self._enter(s, self.config.entry, now)

    def _lookup_timeout(self, s: _Session, event: None, now: float) -> list[Action]:
        return self._enter(s, self.config.entry, now)

    def _digits(self, s: _Session, event: DigitsReceived, now: float) -> list[Action]:
        if not event.digits:
            return self._failure(s, "timeout", now)
        menu = self.config.menus[s.stack[-1]]
        target = menu.options.get(event.digits)
        s.digits.append(event.digits)
        if target is None:
            return self._failure(s, "invalid", now)
        s.pending = [menu.id, event.digits]
        return self._run(s, target, now)

    def _collect_timeout(self, s: _Session, event: None, now: float) -> list[Action]:
        return self._failure(s, "timeout", now)

    def _self_service_done(self, s: _Session, event: SelfServiceDone, now: float) -> list[Action]:
        result = event.result
        if not isinstance(result, dict) or result.get("ok", True) is False:
            return self._self_service_timeout(s, None, now)
        out: list[Action] = []
        play = result.get("play") or []
        for prompt in [play] if isinstance(play, str) else play:
            out.append(IvrPlay(s.contact_id, s.channel, str(prompt), s.language))
        variables = result.get("variables")
        if isinstance(variables, dict):
            s.variables.update(variables)
        nxt = result.get("next")
        target = self._pending_target(s)
        then = target.then if target is not None and target.then is not None else \
            Target("hangup", prompt=self.config.prompt("goodbye"))
        if nxt == "hangup":
            then = Target("hangup", prompt=self.config.prompt("goodbye"))
        elif nxt == "agent":
            return out + self._fallback(s, now, prompt="")
        elif isinstance(nxt, str) and nxt.startswith("menu:"):
            if nxt[5:] not in self.config.menus:
                return out + self._fallback(s, now)
            then = Target("menu", nxt[5:])
        return out + self._run(s, then, now)

    def _self_service_timeout(self, s: _Session, event: None, now: float) -> list[Action]:
        return self._fallback(s, now)

    # ---------------------------------------------------------------------------------------- helpers ----

    def _pending_target(self, s: _Session) -> Target | None:
        if len(s.pending) != 2 or s.pending[0] not in self.config.menus:
            return None
        menu = self.config.menus[s.pending[0]]
        return menu.default if s.pending[1] == "default" else menu.options.get(s.pending[1])

    def _fallback(self, s: _Session, now: float, prompt: str | None = None) -> list[Action]:
        """A self-service that failed or timed out: an agent queue (the ``fallback`` target)."""
        target = self.config.fallback or self.config.operator or Target("hangup", prompt=self.config.prompt("goodbye"))
        out: list[Action] = []
        if prompt is None:
            out.append(IvrPlay(s.contact_id, s.channel, self.config.prompt("failure"), s.language))
        s.variables["self_service_failed"] = prompt is None
        return out + self._run(s, target, now)

    def _failure(self, s: _Session, kind: str, now: float) -> list[Action]:
        menu = self.config.menus[s.stack[-1]]
        s.attempts += 1
        prompt = (menu.invalid_prompt if kind == "invalid" else menu.timeout_prompt) or self.config.prompt(kind)
        out: list[Action] = [IvrPlay(s.contact_id, s.channel, prompt, s.language)]
        if s.attempts > menu.retries:
            s.pending = [menu.id, "default"]
            return out + self._run(s, menu.default, now)
        return out + self._ask(s, now)

    def _enter(self, s: _Session, menu_id: str, now: float) -> list[Action]:
        """Enter a menu: going to a menu already on the stack (``then = "main"``) unwinds the stack to it."""
        if menu_id in s.stack:
            del s.stack[s.stack.index(menu_id) + 1:]
        else:
            s.stack.append(menu_id)
        s.trail.append(menu_id)
        s.attempts = 0
        return self._ask(s, now)

    def _ask(self, s: _Session, now: float) -> list[Action]:
        """Play the current menu's prompt and collect its digits."""
        menu = self.config.menus[s.stack[-1]]
        prompt = menu.prompt.get(s.language) or menu.prompt.get("") or next(iter(menu.prompt.values()))
        s.state, s.deadline = COLLECTING, now + menu.timeout_s + COLLECT_GRACE_S
        return [IvrPlay(s.contact_id, s.channel, prompt, s.language),
                CollectDigits(s.contact_id, s.channel, menu.max_digits, menu.timeout_s)]

    def _end(self, s: _Session) -> None:
        del self.sessions[s.contact_id]

    def _run(self, s: _Session, t: Target, now: float) -> list[Action]:
        """Carry out target ``t`` for session ``s`` (its prompt first)."""
        out: list[Action] = []
        if t.prompt:
            out.append(IvrPlay(s.contact_id, s.channel, t.prompt, s.language))
        kind = t.kind
        if kind == "operator":
            if self.config.operator is None:
                return out + self._failure(s, "invalid", now)
            return out + self._run(s, self.config.operator, now)
        if kind == "menu":
            return out + self._enter(s, t.name, now)
        if kind == "language":
            s.language = t.name
            return out + self._enter(s, t.menu, now)
        if kind == "repeat" and s.stack:
            return out + self._ask(s, now)
        if kind == "back" and s.stack:
            if len(s.stack) > 1:
                s.stack.pop()
            s.trail.append(s.stack[-1])
            s.attempts = 0
            return out + self._ask(s, now)
        if kind == "self-service":
            s.state, s.deadline = SELF_SERVICE, now + self.config.self_service_timeout_s
            inputs = {"caller": s.caller, "customer": s.customer, "language": s.language, "digits": list(s.digits),
                      "variables": dict(s.variables), "attributes": dict(s.attributes), "now": now}
            return out + [RunSelfService(s.contact_id, t.name, inputs)]
        if kind in ("queue", "workflow"):
            out.append(self._routed(s, t))
        elif kind == "voicemail":
            out.append(RecordVoicemail(s.contact_id, s.channel, t.name, s.language))
        else:  # hangup (and repeat/back with no menu yet, which only the closed hours could name)
            out.append(HangUp(s.contact_id, "ivr-closed" if s.variables.get("closed") else "ivr-hangup"))
        self._end(s)
        return out

    def _routed(self, s: _Session, t: Target) -> IvrRouted:
        skills: dict[str, int] = {}
        for menu_id in s.stack:
            _merge(skills, self.config.menus[menu_id].skills)
        _merge(skills, t.skills)
        language = self.config.languages.get(s.language)
        if language is not None and language.skill:
            _merge(skills, {language.skill: language.level})
        priority = t.priority
        for rule in self.config.priority_rules:
            if rule.attribute in s.attributes and s.attributes[rule.attribute] == rule.equals:
                priority = max(priority, rule.priority)
        data = dict(s.data)
        data["ivr"] = {"path": list(s.trail), "digits": list(s.digits), "language": s.language,
                       "variables": dict(s.variables), "attributes": dict(s.attributes), "entered": s.entered}
        return IvrRouted(s.contact_id, s.channel, t.name if t.kind == "queue" else None,
                         t.name if t.kind == "workflow" else None, priority, skills, s.customer or s.caller, data)
