"""The plugin contract: every hook Switchboard calls, each spec's docstring being its contract.

Modelled on pytest's ``hookspec.py``. Rules common to every hook:

- hooks are called through ``plugins.manager.PluginManager.call`` (or ``acall``) with keyword arguments only;
- an implementation that raises is logged with its plugin's name, counted in ``PluginManager.faults`` and skipped:
  the caller gets the results of the other implementations, or the hook's safe default;
- every call has a deadline (``deadline_s``): an implementation still running when it passes is abandoned (async
  call) or counted as an overrun (sync call), and the caller gets the safe default. A slow plugin never holds
  routing up;
- ``firstresult`` hooks stop at the first implementation returning something other than ``None``; the others are
  *collected*: the caller receives the list of every non-``None`` result.

The rule of direction: ``engine`` may import this module (and nothing else of ``plugins``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pluggy

PROJECT = "switchboard"

hookspec = pluggy.HookspecMarker(PROJECT)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A compliance rule's answer: ``allowed`` or not, a human-readable ``reason``, and the ``rule`` that decided."""

    allowed: bool
    reason: str = ""
    rule: str = ""


# ------------------------------------------------------------------------------------------------ lifecycle ----

@hookspec
def switchboard_configure(config: Any) -> None:
    """Called once, after every plugin is registered and before the engine accepts its first event.

    ``config``: the engine's configuration (a mapping; a plugin reads its own section, by convention
    ``config["plugins"]["<plugin name>"]``). Returns nothing; collected (every implementation is called).
    Also in the mapping when the engine has them: ``config["store"]``, the engine's store (an
    ``engine.store.Store``, or an ``engine.store.AsyncStore`` whose ``sync`` is the blocking store), and
    ``config["config_file"]``, the ``engine.tomlfile.TomlFile`` the configuration came from (or ``None``), so a
    plugin validating its section can name the file, line and key in its ``ConfigError``.
    Raising: ``switchboard serve`` configures strictly: a ``ConfigError`` (or any exception) stops the start with
    the plugin's name and message, so the server never runs half-configured: name the file, line and key in a
    ``ConfigError`` about the plugin's section. Elsewhere (``PluginManager.configure()`` by default, in tools
    and tests) it is logged and counted as a fault, and the plugin stays registered.
    Deadline: the startup deadline; an overrun is logged and counted.
    """


@hookspec
def switchboard_unconfigure(config: Any) -> None:
    """Called once at shutdown, after the last action was handed out: flush and close what the plugin holds.

    ``config``: the same object ``switchboard_configure`` received. Returns nothing; collected.
    Raising: logged and counted; the other plugins are still unconfigured. Deadline: as ``switchboard_configure``.
    """


# ------------------------------------------------------------------------------------------------------ IVR ----

@hookspec
def ivr_menu_loaded(menu: Any) -> None:
    """Called when an IVR menu (``menu``: its configuration record) is loaded or reloaded, so a plugin can check
    it or prepare resources (prompts, recognisers). Returns nothing; collected.
    Raising: logged and counted; the menu is used anyway. Deadline: overrun is logged and counted.
    """


@hookspec(firstresult=True)
def ivr_self_service(step: str, contact: Any, inputs: dict[str, Any]) -> Any | None:
    """Called when an IVR flow reaches a self-service ``step`` (e.g. "balance", "order-status") for ``contact``
    (its ``ContactArrived`` or id), with the caller's ``inputs`` so far (digits, speech, variables).

    Returns a result mapping (what to play, variables to set, the next step) or ``None`` if this plugin does not
    serve the step. firstresult: the first non-``None`` result is used.
    Raising or exceeding the deadline: the step fails safely: the caller gets the default (``None``), so the IVR
    routes the contact to an agent as if no self-service existed.
    """


@hookspec(firstresult=True)
def ivr_record_voicemail(channel: str, action: Any, now: float) -> Any | None:
    """Called when the IVR sends a caller to voicemail: ``action`` is ``engine.ivr_events.RecordVoicemail``
    (``contact_id``, ``mailbox``, ``language`` of the greeting), at engine time ``now``. The adapter owning
    ``channel`` plays the mailbox's greeting, records the message, stores or hands it on, and ends the call.

    Returns a truthy value (``True`` or a handle of the recording) when taken, ``None`` for channels it does not
    own. firstresult, keyed by ``channel``. Raising or exceeding the deadline: logged and counted, the default is
    ``None`` (nobody recorded it), and the IVR's driver hangs the caller up (``channel_hangup``) rather than
    leaving the call open.
    """


# ------------------------------------------------------------------------------------------------------ CRM ----

@hookspec(firstresult=True)
def crm_lookup(customer: str) -> dict[str, Any] | None:
    """Called when a contact arrives (before it is offered) for the screen-pop: the customer record of
    ``customer`` (phone number, e-mail or CRM id).

    Returns a record (mapping) or ``None`` when unknown. firstresult: the first CRM that knows the customer wins.
    Raising or exceeding the deadline: the default (``None``): the contact is routed without a screen-pop.
    """


@hookspec
def crm_history(customer: str) -> list[Any]:
    """Called with the screen-pop to show past interactions of ``customer``.

    Returns a list of entries (mappings); collected: the caller receives one list per implementation (a
    ``list`` of lists, which it flattens). Raising or exceeding the deadline: that plugin contributes nothing.
    """
    return []  # a spec's body never runs


@hookspec
def crm_write_back(contact_record: Any) -> None:
    """Called after a contact's life is over with its ``engine.events.ContactRecord`` (disposition, notes,
    times), to write it back to the CRM. Returns nothing; collected.
    Raising or exceeding the deadline: logged and counted; the record is kept in Switchboard's own store anyway
    (a plugin needing guaranteed delivery queues it itself).
    """


# ----------------------------------------------------------------------------------------------- compliance ----

@hookspec
def compliance_check(request: Any) -> Verdict | None:
    """Called before an outbound dial (dialer, callback) with ``request``: a mapping with at least ``number``,
    ``campaign`` (or ``None``), ``lead`` (or ``None``) and ``now`` (engine time). The dialer sends, right before
    each dial::

        number        "+14155550100"  (E.164)
        campaign      the campaign id, or None
        lead          engine.model.Lead.to_dict() (id, campaign, phone, timezones, priority, value, fields,
                      attempts, last_attempt, next_attempt, agent), or None
        timezones     the callee's possible IANA zones: calling hours must hold in every one
        now           Unix seconds (virtual time in a simulation)
        rules         engine.model.CampaignConfig.rules(): calling_hours [first_minute, last_minute),
                      max_attempts, min_interval_s, daily_cap; a missing key takes the rule's own default
        recent_dials  Unix times of the earlier dials to this number in the last 48 h, every campaign

    A rule reads what it needs and treats a missing key as "not known": a rule that cannot judge without it
    refuses (the built-in ``calling-hours`` refuses an unknown or empty zone). The request is shared: never
    modify it. Rules are called on the dial path: answer quickly (an indexed lookup, no network round trip).

    Returns a ``Verdict`` or ``None`` (no opinion). Collected: every rule is asked, and any refusal wins (the
    first ``Verdict(allowed=False)`` in call order is the answer, with its reason and rule); no refusal means
    allowed. Raising or exceeding the deadline: the default is decided by the caller; the dialer's default is
    to refuse (fail closed) with ``rule="plugin-fault"``, so a broken rule never lets a forbidden call through.
    """


# -------------------------------------------------------------------------------------------------- channels ----
# Each adapter owns one or more channel names ("voice", "chat", "sim", ...). Hooks that act on one contact are
# firstresult and keyed by ``channel``: an adapter returns ``None`` for channels it does not own, and ``True`` (or
# a result) when it took the action. Raising or exceeding the deadline: logged and counted, the default is
# ``None`` ("nobody took it"), and the engine treats the leg as failed (the contact is hung up / the offer
# withdrawn by the ACD's own timers).

@hookspec
def channel_start(config: Any) -> None:
    """Called once at engine start for every adapter to open its connections (carrier trunk, gateway, socket).
    ``config``: the engine's configuration. Returns nothing; collected.
    Raising: logged and counted; that adapter stays down, the others start.
    """


@hookspec
def channel_stop() -> None:
    """Called once at shutdown: close connections, hang up what is left. Returns nothing; collected.
    Raising: logged and counted; the other adapters are still stopped.
    """


@hookspec(firstresult=True)
def channel_originate(channel: str, number: str, contact_id: str, now: float) -> Any | None:
    """Dial ``number`` on ``channel`` for ``contact_id`` (dialer lead, callback). firstresult: the adapter owning
    ``channel`` returns a truthy handle (e.g. ``True`` or a call id); others return ``None``.
    Default on fault/deadline: ``None`` (not dialled).
    """


@hookspec(firstresult=True)
def channel_answer(channel: str, action: Any, now: float) -> Any | None:
    """Ring an agent / answer a leg: ``action`` is the engine's ``OfferContact``. firstresult, keyed by
    ``channel``; ``True`` when taken. Default on fault/deadline: ``None``.
    """


@hookspec(firstresult=True)
def channel_bridge(channel: str, action: Any, now: float) -> Any | None:
    """Connect customer and agent: ``action`` is ``Bridge`` (or ``Unbridge`` to take the agent off).
    firstresult, keyed by ``channel``. Default on fault/deadline: ``None``.
    """


@hookspec(firstresult=True)
def channel_play(channel: str, action: Any, now: float) -> Any | None:
    """Play to the customer: ``action`` is ``PlayPrompt``, ``PlayAnnouncement``, ``OfferCallback`` (from the ACD)
    or ``engine.ivr_events.IvrPlay`` (an IVR prompt, with its ``language``). firstresult, keyed by ``channel``. Default on fault/deadline: ``None`` (nothing played; routing goes on).
    """


@hookspec(firstresult=True)
def channel_collect_digits(channel: str, contact_id: str, max_digits: int, timeout_s: float) -> str | None:
    """Collect up to ``max_digits`` DTMF digits from ``contact_id`` within ``timeout_s``. firstresult, keyed by
    ``channel``: the digits collected (possibly ``""``). Default on fault/deadline: ``None`` (no input).
    """


@hookspec(firstresult=True)
def channel_send_message(channel: str, contact_id: str, text: str) -> Any | None:
    """Send ``text`` to ``contact_id`` on a messaging channel (chat, SMS, e-mail). firstresult, keyed by
    ``channel``; truthy when sent. Default on fault/deadline: ``None`` (not sent).
    """


@hookspec(firstresult=True)
def channel_hangup(channel: str, action: Any, now: float) -> Any | None:
    """End a leg: ``action`` is ``HangUp`` (customer side) or ``CancelOffer`` (stop ringing an agent).
    firstresult, keyed by ``channel``. Default on fault/deadline: ``None``.
    """


@hookspec(firstresult=True)
def channel_contact_ended(channel: str, record: Any, now: float) -> dict[str, Any] | None:
    """Called once when the ACD emits the ``ContactRecord`` (``record``) of a contact on ``channel``, before it is
    written back to the CRM: the adapter owning ``channel`` returns what it kept of the conversation (e.g. the
    chat ``transcript``, the e-mail thread) as a mapping merged into ``record.data`` for the write-back, and
    forgets the contact. firstresult, keyed by ``channel``; others return ``None``.
    Default on fault/deadline: ``None``: the record is written back as the ACD emitted it.
    """


@hookspec
def channel_blueprints() -> list[Any]:
    """Called once by ``admin_api.create_app``: the quart ``Blueprint`` objects an adapter serves on the admin
    API's server (its own WebSockets and pages, e.g. the WebRTC gateway's ``/webrtc/ws/...``), so the admin API
    needs no import of the adapter. Staff sockets declare themselves with ``admin_api.api.socket_route`` and
    authenticate with ``ws_authenticate`` like the admin API's own. Returns a list of blueprints; collected (the
    caller receives one list per implementation). Raising: logged and counted; that adapter serves nothing.
    """
    return []  # a spec's body never runs


@hookspec
def channel_agent_present(agent_id: str) -> bool | None:
    """Whether this adapter still holds a connection of ``agent_id`` (a socket, or a session kept through a
    reconnection grace), so that another channel's socket of the same agent closing does not disconnect the agent
    (``AgentDisconnected``): the adapter holding the presence submits it itself when it lets go. Returns ``True``
    when it holds the agent, ``None`` otherwise; collected (any ``True`` means present). Raising or exceeding the
    deadline: counted, and taken as not present.
    """


# -------------------------------------------------------------------------------------------------- tickets ----
# Tickets (work orders): one reference (e.g. "T-000123") per ticket, statuses open / pending / resolved / closed,
# an assignee, a department (queue) and a history. Tickets travel as mappings (``engine.store.Ticket.to_dict()``:
# ``reference``, ``customer_id``, ``department``, ``subject``, ``status``, ``assignee``, ``contact_id``,
# ``created``, ``updated``, ``events``), so an external helpdesk can implement the same hooks.

@hookspec(firstresult=True)
def ticket_create(contact: Any, subject: str, department: str | None, note: str) -> dict[str, Any] | None:
    """Called when an agent (or a bot, or the IVR) opens a ticket from a contact, in one call: ``contact`` is the
    contact's ``ContactArrived``, ``ContactRecord`` or a mapping with ``contact_id``, ``channel``, ``queue`` and
    ``customer``; ``department`` the department queue, or ``None`` to let the plugin's routing rules choose;
    ``note`` the first history note (may be ``""``).

    Returns the new ticket (a mapping), a mapping with only an ``error`` key when the ticket is refused (empty
    subject), or ``None`` if this plugin does not keep tickets. firstresult: the first ticket system that takes it
    wins. Raising or exceeding the deadline: the default (``None``): no ticket was created as far as the caller
    knows (the caller tells the agent to try again).
    """


@hookspec(firstresult=True)
def ticket_lookup(reference: str) -> dict[str, Any] | None:
    """Called to show a ticket by its ``reference`` on any channel (agent desktop, chat or e-mail bot, IVR).
    The reference may be given as keyed in (``"123"``, ``"t-000123"``).

    Returns the ticket (a mapping, with its history) or ``None`` when this plugin does not know it.
    firstresult. Raising or exceeding the deadline: the default (``None``): "not found".
    """


@hookspec(firstresult=True)
def ticket_update(reference: str, status: str | None, assignee: str | None, note: str,
                  who: str) -> dict[str, Any] | None:
    """Called to change a ticket: ``status`` (``None``: unchanged), ``assignee`` (``None``: unchanged, ``""``:
    unassigned), a ``note`` to add to its history (may be ``""``), by ``who`` (agent id, "ivr", ...).

    Returns the updated ticket (a mapping), or, when the change is refused (a transition the statuses do not
    allow, an unknown status, nothing to change), the ticket unchanged with an ``error`` key holding the reason;
    ``None`` when this plugin does not know the reference. firstresult. Raising or exceeding the deadline: the
    default (``None``): the caller reports the change as not made.
    """


@hookspec
def tickets_open(customer: str) -> list[dict[str, Any]]:
    """Called with the screen pop for the tickets of ``customer`` (phone number, e-mail, chat id or
    ``kind:value``) that still need work (status open or pending), newest first.

    Returns a list of tickets (mappings); collected: the caller receives one list per implementation, which it
    flattens. Raising or exceeding the deadline: that plugin contributes nothing.
    """
    return []  # a spec's body never runs


# ------------------------------------------------------------------------------------------------ observers ----

@hookspec
def observe_action(action: Any, now: float) -> None:
    """Called for every action the ACD emits (``OfferContact``, ``AgentStateChanged``, ``ContactStateChanged``,
    ``ContactRecord``, ...) at engine time ``now``, through ``plugins.manager.ObserverSink``. For CDR
    exporters, webhooks, metrics. Returns nothing; collected.
    Raising: logged and counted; the next actions are still delivered. Must be quick: an overrun of the
    deadline is counted as a fault (hand slow work to your own thread or queue).
    """
