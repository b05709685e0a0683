"""Agents: their configuration (skills, capacity, teams), their live state, and the queues they serve.

An admin creates, changes and removes agents; a supervisor reads the agents of its teams, changes their state
and moves them between queues; an agent reads and sets its own state. Changes are engine events
(``UpsertAgent``, ``RemoveAgent``, ``AgentLogin``...), journaled before they apply, live, and audited.

Moving an agent between queues (``PUT /v1/agents/{id}/queues``) is done with skills, as queues select agents by
skill: the agent gains every skill the listed queues require (at the level they require, keeping a higher level
it has) and loses the skills that only the queues it leaves require. The answer says which queues it serves now.
Staff move any agent they see; an agent moves itself, but only into and out of its ``optional_queues`` (set by an
admin): the queues it may choose to work, from its desktop.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from quart import Blueprint

from admin_api.api import Ctx, no_content, route
from admin_api.auth import ADMIN, ANYONE, STAFF
from admin_api.errors import ApiError, not_found
from admin_api.pages import CURSOR, LIMIT, page
from admin_api.schemas import ID, NAME, STRINGS, TIME, closed, page_of, register
from engine.config import agent_serves
from engine.events import AgentLogin, AgentLogout, AgentNotReady, AgentReady, RemoveAgent, UpsertAgent
from engine.model import DEFAULT_CAPACITY, MAX_SKILL_LEVEL, MIN_SKILL_LEVEL, AgentConfig

bp = Blueprint("agents", __name__)

AGENT_STATES = ["logged-out", "available", "reserved", "on-contact", "wrap-up", "not-ready"]
LEVELS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": MIN_SKILL_LEVEL,
                                                     "maximum": MAX_SKILL_LEVEL},
          "description": "skill -> level 1..10"}
CAPACITY = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100},
            "description": "channel -> contacts held at once"}
STATE = register("AgentState", closed({
    "state": {"type": "string", "enum": AGENT_STATES}, "reason": {"type": "string"}, "since": TIME,
    "contacts": {"type": "array", "items": {"type": "string"}, "description": "offered, live and wrapping up"},
}, ("state", "reason", "since", "contacts")))
OPTIONAL_QUEUES = {"type": "array", "items": ID, "maxItems": 500, "uniqueItems": True,
                   "description": "queues the agent may join or leave by itself (PUT /v1/agents/{id}/queues)"}
AGENT_FIELDS = {"id": ID, "name": NAME, "skills": LEVELS, "capacity": CAPACITY, "teams": STRINGS,
                "optional_queues": OPTIONAL_QUEUES}
AGENT = register("Agent", closed(AGENT_FIELDS, tuple(AGENT_FIELDS)))
AGENT_WITH_STATE = register("AgentWithState", closed({**AGENT_FIELDS, "state": STATE},
                                                     (*AGENT_FIELDS, "state")))
FIELDS = {name: schema for name, schema in AGENT_FIELDS.items() if name != "id"}


def agent_view(agent: AgentConfig) -> dict[str, Any]:
    return {"id": agent.id, "name": agent.name, "skills": dict(agent.skills), "capacity": dict(agent.capacity),
            "teams": list(agent.teams), "optional_queues": list(agent.optional_queues)}


def _known_queues(center: Any, queue_ids: list[str], field: str) -> tuple[str, ...]:
    unknown = [q for q in queue_ids if q not in center.queues]
    if unknown:
        raise ApiError(422, f"body.{field}: no queue {unknown[0]!r}")
    return tuple(queue_ids)


def state_view(center: Any, agent_id: str) -> dict[str, Any]:
    state, reason, since = center.agent_state(agent_id)
    a = center.agents[agent_id]
    contacts = sorted(set(a.offers) | set(a.active) | set(a.wrapping))
    return {"state": state, "reason": reason, "since": since, "contacts": contacts}


def visible_agent(ctx: Ctx, agent_id: str) -> AgentConfig:
    """The agent's configuration if the caller may see it; 404 otherwise (an agent it may not see does not exist
    for it: no probing of ids)."""
    found = ctx.engine.runtime.acd.agents.get(agent_id)
    if found is None or not ctx.who.sees_agent(agent_id, found.config.teams):
        raise not_found(f"agent {agent_id!r}")
    return found.config  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------------ config ----

@route(bp, "GET", "/v1/agents", summary="List agents with their live state", roles=ANYONE, tags=("agents",),
       response=page_of(AGENT_WITH_STATE),
       query={"state": {"type": "string", "enum": AGENT_STATES}, "team": {"type": "string", "maxLength": 200},
              "skill": {"type": "string", "maxLength": 200}, "queue": {"type": "string", "maxLength": 200},
              "limit": LIMIT, "cursor": CURSOR},
       description="A supervisor sees the agents of its teams, an agent itself. Filters: state, team, skill "
                   "(has it), queue (can serve it).")
async def list_agents(ctx: Ctx) -> dict[str, Any]:
    center = ctx.engine.runtime.acd
    q = ctx.query
    queue = center.queues.get(q["queue"]) if q.get("queue") else None
    if q.get("queue") and queue is None:
        raise ApiError(422, f"query parameter queue: no queue {q['queue']!r}")
    matching = []
    for agent_id in sorted(center.agents):
        config = center.agents[agent_id].config
        if not ctx.who.sees_agent(agent_id, config.teams):
            continue
        if q.get("team") and q["team"] not in config.teams:
            continue
        if q.get("skill") and q["skill"] not in config.skills:
            continue
        if queue is not None and not agent_serves(config, queue):
            continue
        if q.get("state") and center.agent_state(agent_id)[0] != q["state"]:
            continue
        matching.append(agent_id)
    # Views only for the page: with thousands of agents, building every one cost ~35 ms of the engine's thread.
    found = page(matching, q)
    found["items"] = [{**agent_view(center.agents[a].config), "state": state_view(center, a)} for a in found["items"]]
    return found


@route(bp, "POST", "/v1/agents", summary="Create an agent", roles=ADMIN, tags=("agents",), status=201,
       response=AGENT, body=closed({"id": ID, **FIELDS}, ("id",)))
async def create_agent(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    center = ctx.engine.runtime.acd
    if body["id"] in center.agents:
        raise ApiError(409, f"agent {body['id']!r} already exists")
    capacity = body.get("capacity") or {c: DEFAULT_CAPACITY.get(c, 1) for c in center.config_now().channels}
    agent = AgentConfig(body["id"], body.get("name", ""), dict(body.get("skills", {})), dict(capacity),
                        tuple(body.get("teams", ())),
                        _known_queues(center, body.get("optional_queues", []), "optional_queues"))
    await ctx.change(UpsertAgent(agent), "create", f"agent:{agent.id}", after=agent_view(agent))
    return agent_view(agent)


@route(bp, "GET", "/v1/agents/<agent_id>", summary="One agent's configuration", roles=ANYONE, tags=("agents",),
       response=AGENT, etag=True)
async def get_agent(ctx: Ctx, agent_id: str) -> dict[str, Any]:
    return agent_view(visible_agent(ctx, agent_id))


@route(bp, "PATCH", "/v1/agents/<agent_id>",
       summary="Change an agent's name, skills, capacity, teams or optional queues",
       roles=ADMIN, tags=("agents",), response=AGENT, body=closed(FIELDS, minProperties=1),
       description="Applies live: an agent keeps its state and contacts. Send If-Match to refuse a stale edit.")
async def update_agent(ctx: Ctx, agent_id: str) -> dict[str, Any]:
    before = visible_agent(ctx, agent_id)
    body = ctx.body
    optional = before.optional_queues
    if "optional_queues" in body:
        optional = _known_queues(ctx.engine.runtime.acd, body["optional_queues"], "optional_queues")
    after = replace(before, name=body.get("name", before.name), skills=body.get("skills", before.skills),
                    capacity=body.get("capacity", before.capacity), teams=tuple(body.get("teams", before.teams)),
                    optional_queues=optional)
    await ctx.change(UpsertAgent(after), "update", f"agent:{agent_id}", before=agent_view(before),
                     after=agent_view(after))
    return agent_view(after)


@route(bp, "DELETE", "/v1/agents/<agent_id>", summary="Remove an agent (it must be logged out)", roles=ADMIN,
       tags=("agents",), status=204)
async def delete_agent(ctx: Ctx, agent_id: str) -> Any:
    before = visible_agent(ctx, agent_id)
    await ctx.change(RemoveAgent(agent_id), "delete", f"agent:{agent_id}", before=agent_view(before), refused=409)
    return no_content()


# ------------------------------------------------------------------------------------------------- state ----

@route(bp, "GET", "/v1/agents/<agent_id>/state", summary="An agent's live state", roles=ANYONE, tags=("agents",),
       response=STATE)
async def get_state(ctx: Ctx, agent_id: str) -> dict[str, Any]:
    visible_agent(ctx, agent_id)
    return state_view(ctx.engine.runtime.acd, agent_id)


@route(bp, "PUT", "/v1/agents/<agent_id>/state", summary="Set an agent's state", roles=ANYONE, tags=("agents",),
       response=STATE,
       body=closed({"state": {"type": "string", "enum": ["available", "not-ready", "logged-out"]},
                    "reason": {"type": "string", "minLength": 1, "maxLength": 100}}, ("state",)),
       description="available (logs in first if needed), not-ready with a reason (default break), logged-out "
                   "(at once, or after the contacts in hand). An agent sets its own, a supervisor its teams'.")
async def set_state(ctx: Ctx, agent_id: str) -> dict[str, Any]:
    visible_agent(ctx, agent_id)
    center = ctx.engine.runtime.acd
    wanted, reason = ctx.body["state"], ctx.body.get("reason")
    current = center.agent_state(agent_id)[0]
    if wanted == "logged-out":
        if current != "logged-out":
            await ctx.submit(AgentLogout(agent_id))
    else:
        if current == "logged-out":
            await ctx.submit(AgentLogin(agent_id))
        await ctx.submit(AgentReady(agent_id) if wanted == "available" else AgentNotReady(agent_id, reason or "break"))
    await ctx.audit("state", f"agent:{agent_id}", {"before": current, "after": wanted, "reason": reason or ""})
    return state_view(center, agent_id)


# ------------------------------------------------------------------------------------------------ queues ----

QUEUE_IDS = register("AgentQueues", closed({"queues": {"type": "array", "items": ID, "maxItems": 500}},
                                           ("queues",)))


def _served(center: Any, agent: AgentConfig) -> list[str]:
    return sorted(q.id for q in center.queues.values() if agent_serves(agent, q))


def _check_own_move(center: Any, before: AgentConfig, after: AgentConfig) -> None:
    """An agent moving itself: every queue it would join or leave, those its new skills bring or take away with
    them included, must be one of its optional queues (403 naming the first that is not)."""
    served_before, served_after = set(_served(center, before)), set(_served(center, after))
    assigned = sorted(q for q in served_before ^ served_after if q not in before.optional_queues)
    if assigned:
        verb = "join" if assigned[0] in served_after else "leave"
        raise ApiError(403, f"queue {assigned[0]!r} is assigned by a supervisor: you may {verb} only your optional "
                            f"queues ({', '.join(before.optional_queues) or 'none'})")


@route(bp, "GET", "/v1/agents/<agent_id>/queues", summary="The queues an agent can serve now", roles=ANYONE,
       tags=("agents",), response=QUEUE_IDS)
async def get_queues(ctx: Ctx, agent_id: str) -> dict[str, Any]:
    return {"queues": _served(ctx.engine.runtime.acd, visible_agent(ctx, agent_id))}


@route(bp, "PUT", "/v1/agents/<agent_id>/queues", summary="Move an agent between queues", roles=ANYONE,
       tags=("agents",), response=QUEUE_IDS, body=QUEUE_IDS,
       description="Gives the agent the skills the listed queues require and takes away those only the queues "
                   "it leaves require (see the module documentation); answers the queues it serves now, which "
                   "may include others whose requirements it happens to meet. Staff move the agents they see; an "
                   "agent moves itself into or out of its optional_queues only (403 naming the first other queue "
                   "it would join or leave, counting those its new skills bring or take away).")
async def set_queues(ctx: Ctx, agent_id: str) -> dict[str, Any]:
    before = visible_agent(ctx, agent_id)
    center = ctx.engine.runtime.acd
    wanted = list(dict.fromkeys(ctx.body["queues"]))
    _known_queues(center, wanted, "queues")
    keep: dict[str, int] = {}
    for qid in wanted:
        for skill, level in center.queues[qid].skills.items():
            keep[skill] = max(keep.get(skill, 0), level)
    leaving = [q for q in _served(center, before) if q not in wanted]
    drop = {s for qid in leaving for s in center.queues[qid].skills} - set(keep)
    skills = {s: lvl for s, lvl in before.skills.items() if s not in drop}
    for skill, level in keep.items():
        skills[skill] = max(skills.get(skill, 0), level)
    capacity = dict(before.capacity)
    for qid in wanted:
        channel = center.queues[qid].channel
        if capacity.get(channel, 0) <= 0:
            capacity[channel] = DEFAULT_CAPACITY.get(channel, 1)
    after = replace(before, skills=skills, capacity=capacity)
    if ctx.who.role not in STAFF:
        _check_own_move(center, before, after)
    await ctx.submit(UpsertAgent(after), refused=422)
    await ctx.audit("move", f"agent:{agent_id}", {"queues": wanted, "before": agent_view(before),
                                                  "after": agent_view(after)})
    return {"queues": _served(center, after)}
