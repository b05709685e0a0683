"""Skills, queues and workflows: the routing configuration, changed live; and the disposition codes (read only).

Every change is an engine event (``AddSkill``, ``UpsertQueue``, ``RemoveQueue``, ``UpsertWorkflow``,
``RemoveWorkflow``), validated by the engine against the whole configuration (a queue no agent could ever serve,
an unknown skill or overflow queue are refused with the reason, 422), journaled before it applies, and audited.
Everyone may read them (an agent's desktop shows queue names); only admins change them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from quart import Blueprint

from admin_api.api import Ctx, no_content, route
from admin_api.auth import ADMIN, ANYONE
from admin_api.errors import ApiError, not_found
from admin_api.pages import CURSOR, LIMIT, page
from admin_api.resources.agents import LEVELS
from admin_api.schemas import ID, NAME, closed, page_of, register
from engine.config import WEEKDAYS, hours_table, parse_hours
from engine.errors import ConfigError
from engine.events import AddSkill, RemoveQueue, RemoveWorkflow, UpsertQueue, UpsertWorkflow
from engine.model import STRATEGIES, QueueConfig, RoutingStep, WorkflowConfig

bp = Blueprint("config", __name__)

SECONDS = {"type": "number", "minimum": 0, "maximum": 7 * 86400}
POSITIVE_SECONDS = {"type": "number", "exclusiveMinimum": 0, "maximum": 7 * 86400}
OPTIONAL_SECONDS = {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 7 * 86400}
RANGES = {"type": "array", "maxItems": 24,
          "items": {"type": "string", "pattern": r"^\d{1,2}:\d{2}-\d{1,2}:\d{2}$"}}
HOURS = register("OpenHours", closed({
    "timezone": {"type": "string", "minLength": 1, "maxLength": 64}, **{day: RANGES for day in WEEKDAYS},
    "holidays": {"type": "array", "items": {"type": "string", "format": "date"}, "maxItems": 1000},
}, description="Weekly opening hours in a time zone (days with no range are closed; no day at all: always "
               "open), and holidays (ISO dates) when the queue is closed."))
QUEUE_FIELDS: dict[str, Any] = {
    "name": NAME, "channel": {"type": "string", "minLength": 1, "maxLength": 64}, "skills": LEVELS,
    "priority": {"type": "integer", "minimum": -1000, "maximum": 1000},
    "strategy": {"type": "string", "enum": list(STRATEGIES)},
    "aging_per_min": {"type": "number", "minimum": 0, "maximum": 1000},
    "ring_timeout_s": POSITIVE_SECONDS, "wrap_up_s": SECONDS, "max_wait_s": OPTIONAL_SECONDS,
    "overflow_queue": {"type": ["string", "null"], "maxLength": 64}, "callback_after_s": OPTIONAL_SECONDS,
    "announce_every_s": OPTIONAL_SECONDS, "hours": HOURS,
    "closed_queue": {"type": ["string", "null"], "maxLength": 64},
    "service_level_s": POSITIVE_SECONDS,
    "service_level_target": {"type": "number", "minimum": 0, "maximum": 1},
    "survey": {"type": "boolean"},
}
QUEUE = register("Queue", closed({"id": ID, **QUEUE_FIELDS}, ("id", *QUEUE_FIELDS)))
STEP = register("RoutingStep", closed({
    "queue": ID, "skills": {**LEVELS, "type": ["object", "null"]},
    "preferred_agents": {"type": "array", "items": ID, "maxItems": 1000},
    "priority": {"type": "integer", "minimum": -1000, "maximum": 1000}, "timeout_s": OPTIONAL_SECONDS,
}, ("queue",)))
STEPS = {"type": "array", "items": STEP, "minItems": 1, "maxItems": 50}
WORKFLOW = register("Workflow", closed({"id": ID, "steps": STEPS}, ("id", "steps")))
SKILL = register("Skill", closed({"name": ID, "agents": {"type": "integer"}, "queues": {"type": "integer"}},
                                 ("name", "agents", "queues")))


# ------------------------------------------------------------------------------------------ dispositions ----

DISPOSITIONS = register("Dispositions", closed({"dispositions": {"type": "array", "items": {"type": "string"}}},
                                               ("dispositions",)))


@route(bp, "GET", "/v1/dispositions", summary="The disposition codes a wrap-up may give", roles=ANYONE,
       tags=("queues",), response=DISPOSITIONS,
       description="From the configuration's ``dispositions`` (the agent desktop's wrap-up list); the engine "
                   "refuses a wrap-up with any other code.")
async def list_dispositions(ctx: Ctx) -> dict[str, Any]:
    return {"dispositions": list(ctx.engine.runtime.acd.config_now().dispositions)}


# ------------------------------------------------------------------------------------------------ skills ----

@route(bp, "GET", "/v1/skills", summary="List skills, with how many agents have and queues require each",
       roles=ANYONE, tags=("skills",), response=page_of(SKILL), query={"limit": LIMIT, "cursor": CURSOR})
async def list_skills(ctx: Ctx) -> dict[str, Any]:
    config = ctx.engine.runtime.acd.config_now()
    items = [{"name": s, "agents": sum(1 for a in config.agents if s in a.skills),
              "queues": sum(1 for q in config.queues if s in q.skills)} for s in config.skills]
    return page(items, ctx.query)


@route(bp, "POST", "/v1/skills", summary="Declare a skill", roles=ADMIN, tags=("skills",), status=201,
       response=SKILL, body=closed({"name": ID}, ("name",)),
       description="Skills are never removed: requirements and agents refer to them.")
async def create_skill(ctx: Ctx) -> dict[str, Any]:
    name = ctx.body["name"]
    if name in ctx.engine.runtime.acd.config_now().skills:
        raise ApiError(409, f"skill {name!r} already exists")
    await ctx.change(AddSkill(name), "create", f"skill:{name}")
    return {"name": name, "agents": 0, "queues": 0}


# ------------------------------------------------------------------------------------------------ queues ----

def queue_view(queue: QueueConfig) -> dict[str, Any]:
    data = queue.to_dict()
    data["hours"] = hours_table(queue.hours)
    data["skills"] = dict(queue.skills)
    return data


def _queue_from(queue_id: str, fields: dict[str, Any], base: QueueConfig | None = None) -> QueueConfig:
    fields = dict(fields)
    if "hours" in fields:
        try:
            fields["hours"] = parse_hours(fields["hours"], "body.hours")
        except ConfigError as exc:
            raise ApiError(422, str(exc)) from None
    if base is None:
        return QueueConfig(id=queue_id, **fields)
    return replace(base, **fields)


def _need_queue(ctx: Ctx, queue_id: str) -> QueueConfig:
    found = ctx.engine.runtime.acd.queues.get(queue_id)
    if found is None:
        raise not_found(f"queue {queue_id!r}")
    return found  # type: ignore[no-any-return]


@route(bp, "GET", "/v1/queues", summary="List queues", roles=ANYONE, tags=("queues",), response=page_of(QUEUE),
       query={"channel": {"type": "string", "maxLength": 64}, "limit": LIMIT, "cursor": CURSOR})
async def list_queues(ctx: Ctx) -> dict[str, Any]:
    queues = ctx.engine.runtime.acd.queues
    channel = ctx.query.get("channel")
    items = [queue_view(queues[q]) for q in sorted(queues) if channel is None or queues[q].channel == channel]
    return page(items, ctx.query)


@route(bp, "POST", "/v1/queues", summary="Create a queue", roles=ADMIN, tags=("queues",), status=201,
       response=QUEUE, body=closed({"id": ID, **QUEUE_FIELDS}, ("id",)),
       description="Fields left out take their defaults (longest-idle, 20 s ring timeout, 30 s wrap-up, "
                   "80 % in 20 s). Refused (422) when no agent could ever serve it or a reference is unknown.")
async def create_queue(ctx: Ctx) -> dict[str, Any]:
    body = dict(ctx.body)
    queue_id = body.pop("id")
    if queue_id in ctx.engine.runtime.acd.queues:
        raise ApiError(409, f"queue {queue_id!r} already exists")
    queue = _queue_from(queue_id, body)
    await ctx.change(UpsertQueue(queue), "create", f"queue:{queue_id}", after=queue_view(queue))
    return queue_view(queue)


@route(bp, "GET", "/v1/queues/<queue_id>", summary="One queue", roles=ANYONE, tags=("queues",), response=QUEUE,
       etag=True)
async def get_queue(ctx: Ctx, queue_id: str) -> dict[str, Any]:
    return queue_view(_need_queue(ctx, queue_id))


@route(bp, "PATCH", "/v1/queues/<queue_id>", summary="Change a queue", roles=ADMIN, tags=("queues",),
       response=QUEUE, body=closed(QUEUE_FIELDS, minProperties=1),
       description="Applies live; contacts waiting move into the queue's new requirements, keeping their place. "
                   "The channel of a queue cannot change. Send If-Match to refuse a stale edit.")
async def update_queue(ctx: Ctx, queue_id: str) -> dict[str, Any]:
    before = _need_queue(ctx, queue_id)
    after = _queue_from(queue_id, ctx.body, before)
    await ctx.change(UpsertQueue(after), "update", f"queue:{queue_id}", before=queue_view(before),
                     after=queue_view(after))
    return queue_view(after)


@route(bp, "DELETE", "/v1/queues/<queue_id>", summary="Remove a queue", roles=ADMIN, tags=("queues",),
       status=204, description="Refused (409) while a contact is in it or a workflow, queue or campaign refers "
                               "to it.")
async def delete_queue(ctx: Ctx, queue_id: str) -> Any:
    before = _need_queue(ctx, queue_id)
    await ctx.change(RemoveQueue(queue_id), "delete", f"queue:{queue_id}", before=queue_view(before), refused=409)
    return no_content()


@route(bp, "GET", "/v1/queues/<queue_id>/contacts", summary="The contacts waiting in a queue, best first",
       roles=ANYONE, tags=("queues",),
       response=closed({"items": {"type": "array", "items": register("WaitingContact", closed({
           "contact_id": {"type": "string"}, "position": {"type": "integer"}, "priority": {"type": "integer"},
           "arrived": {"type": "number"}, "channel": {"type": "string"}}, ("contact_id", "position", "priority",
                                                                        "arrived", "channel")))}}, ("items",)),
       description="Agents see how many wait and since when, not who (no customer identities).")
async def waiting_contacts(ctx: Ctx, queue_id: str) -> dict[str, Any]:
    center = ctx.engine.runtime.acd
    _need_queue(ctx, queue_id)
    items = []
    for position, contact_id in enumerate(center.waiting(queue_id), start=1):
        c = center.contacts[contact_id]
        items.append({"contact_id": contact_id, "position": position, "priority": c.priority,
                      "arrived": c.arrived, "channel": c.channel})
    return {"items": items}


# --------------------------------------------------------------------------------------------- workflows ----

def workflow_view(workflow: WorkflowConfig) -> dict[str, Any]:
    return workflow.to_dict() | {"steps": [{**s.to_dict(), "preferred_agents": list(s.preferred_agents)}
                                           for s in workflow.steps]}


def _need_workflow(ctx: Ctx, workflow_id: str) -> WorkflowConfig:
    found = ctx.engine.runtime.acd.workflows.get(workflow_id)
    if found is None:
        raise not_found(f"workflow {workflow_id!r}")
    return found  # type: ignore[no-any-return]


def _workflow_from(workflow_id: str, steps: list[dict[str, Any]]) -> WorkflowConfig:
    return WorkflowConfig(workflow_id, tuple(RoutingStep.from_dict(s) for s in steps))


@route(bp, "GET", "/v1/workflows", summary="List workflows", roles=ANYONE, tags=("workflows",),
       response=page_of(WORKFLOW), query={"limit": LIMIT, "cursor": CURSOR})
async def list_workflows(ctx: Ctx) -> dict[str, Any]:
    flows = ctx.engine.runtime.acd.config_now().workflows
    return page([workflow_view(w) for w in sorted(flows, key=lambda w: w.id)], ctx.query)


@route(bp, "POST", "/v1/workflows", summary="Create a workflow", roles=ADMIN, tags=("workflows",), status=201,
       response=WORKFLOW, body=WORKFLOW)
async def create_workflow(ctx: Ctx) -> dict[str, Any]:
    workflow_id = ctx.body["id"]
    if any(w.id == workflow_id for w in ctx.engine.runtime.acd.config_now().workflows):
        raise ApiError(409, f"workflow {workflow_id!r} already exists")
    workflow = _workflow_from(workflow_id, ctx.body["steps"])
    await ctx.change(UpsertWorkflow(workflow), "create", f"workflow:{workflow_id}", after=workflow_view(workflow))
    return workflow_view(workflow)


@route(bp, "GET", "/v1/workflows/<workflow_id>", summary="One workflow", roles=ANYONE, tags=("workflows",),
       response=WORKFLOW, etag=True)
async def get_workflow(ctx: Ctx, workflow_id: str) -> dict[str, Any]:
    return workflow_view(_need_workflow(ctx, workflow_id))


@route(bp, "PUT", "/v1/workflows/<workflow_id>", summary="Replace a workflow's steps", roles=ADMIN,
       tags=("workflows",), response=WORKFLOW,
       body=closed({"steps": STEPS}, ("steps",)),
       description="Contacts already routed by it keep their steps. Send If-Match to refuse a stale edit.")
async def replace_workflow(ctx: Ctx, workflow_id: str) -> dict[str, Any]:
    before = _need_workflow(ctx, workflow_id)
    after = _workflow_from(workflow_id, ctx.body["steps"])
    await ctx.change(UpsertWorkflow(after), "update", f"workflow:{workflow_id}", before=workflow_view(before),
                     after=workflow_view(after))
    return workflow_view(after)


@route(bp, "DELETE", "/v1/workflows/<workflow_id>", summary="Remove a workflow", roles=ADMIN, tags=("workflows",),
       status=204)
async def delete_workflow(ctx: Ctx, workflow_id: str) -> Any:
    before = _need_workflow(ctx, workflow_id)
    await ctx.change(RemoveWorkflow(workflow_id), "delete", f"workflow:{workflow_id}",
                     before=workflow_view(before), refused=409)
    return no_content()
