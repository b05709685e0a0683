// Supervisor wallboard: live figures from the WebSocket /v1/stream (docs/operations.md, "Live operations").
// Log in (POST /v1/auth/login) or paste a token; the socket's first frame authenticates. Snapshots replace the
// figures; "agents" frames update agents between them; waits and times in state tick here, from the engine time
// of the last frame. A supervisor sets an agent's state (PUT /v1/agents/{id}/state) and moves it between queues
// (PUT /v1/agents/{id}/queues). On a call of an agent of its teams it listens in, whispers to the agent or barges
// in: a peer connection of its own through the WebRTC gateway's supervisor socket (docs/gateway.md), one call at
// a time, switching modes without a new connection.
"use strict";
(function () {
  const TOKEN_KEY = "switchboard-token";
  const $ = (id) => document.getElementById(id);
  const wsUrl = (path) => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  let socket = null;
  let retry = 0;
  let role = null;
  let offset = 0; // engine time minus this browser's clock, from the last frame
  let queues = {};
  const agents = new Map(); // id -> {entry, row}

  const engineNow = () => Date.now() / 1000 + offset;
  const percent = (x) => (x === null || x === undefined ? "–" : (x * 100).toFixed(1) + "%");
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(r).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }
  const clock = (t) => new Date(t * 1000).toLocaleTimeString();

  function setStatus(text, live) {
    $("status").textContent = text;
    $("status").className = live ? "live" : "offline";
  }

  // ------------------------------------------------------------------------------------------- login ----

  function showLogin(message) {
    $("login").hidden = false;
    $("board").hidden = true;
    $("logout").hidden = true;
    $("login-error").textContent = message || "";
  }

  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    const reply = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await reply.text();
    const data = text ? JSON.parse(text) : null;
    if (!reply.ok) throw new Error((data && data.reason) || reply.status + " " + reply.statusText);
    return data;
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    sessionStorage.removeItem(TOKEN_KEY);
    try {
      const session = await api("POST", "/v1/auth/login",
        { username: form.get("username"), password: form.get("password") });
      start(session.token);
    } catch (error) {
      showLogin(error.message);
    }
  });

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start(new FormData(event.target).get("token").trim());
  });

  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/v1/auth/logout"); } catch (error) { /* the token may be gone already */ }
    sessionStorage.removeItem(TOKEN_KEY);
    endSupervision("logged out");
    if (socket) socket.close();
    socket = null;
    showLogin("");
  });

  function start(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    retry = 0;
    connect();
  }

  // ------------------------------------------------------------------------------------------ stream ----

  function connect() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return showLogin("");
    const ws = new WebSocket(wsUrl("/v1/stream"));
    socket = ws;
    setStatus("connecting", false);
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token }));
    ws.onmessage = (message) => handle(JSON.parse(message.data));
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      setStatus("offline", false);
      if (event.code === 4401 || event.code === 4403) {
        sessionStorage.removeItem(TOKEN_KEY);
        return showLogin(event.reason || "not allowed");
      }
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, 500 * retry);
    };
  }

  function handle(frame) {
    if (frame.type === "authenticated") {
      role = frame.principal.role;
      retry = 0;
      $("who").textContent = frame.principal.name + " (" + role + ")";
      document.body.classList.toggle("staff", role === "admin" || role === "supervisor");
      $("campaigns-section").hidden = role === "agent";
      $("login").hidden = true;
      $("board").hidden = false;
      $("logout").hidden = false;
      setStatus("live", true);
    } else if (frame.type === "snapshot") {
      offset = frame.at - Date.now() / 1000;
      renderSnapshot(frame);
    } else if (frame.type === "agents") {
      for (const change of frame.changes) {
        const known = agents.get(change.agent_id);
        if (known) {
          Object.assign(known.entry, { state: change.state, reason: change.reason, since: change.since });
          renderAgent(change.agent_id, known.entry);
        }
      }
    } else if (frame.type === "error") {
      $("login-error").textContent = frame.reason;
    }
  }

  // ------------------------------------------------------------------------------------------- render ----

  function rowFor(tbody, key, attribute, columns) {
    let row = tbody.querySelector(`tr[${attribute}="${CSS.escape(key)}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.setAttribute(attribute, key);
      for (const name of columns) {
        const cell = document.createElement("td");
        cell.className = name;
        row.appendChild(cell);
      }
      tbody.appendChild(row);
    }
    return row;
  }

  function prune(tbody, attribute, keep) {
    for (const row of tbody.querySelectorAll(`tr[${attribute}]`)) {
      if (!keep.has(row.getAttribute(attribute))) row.remove();
    }
  }

  const set = (row, name, text) => { row.querySelector("td." + name).textContent = text; };
  const QUEUE_COLUMNS = ["name", "waiting", "longest", "sl", "target", "asa", "abandoned", "offered", "answered",
    "agents"];
  const AGENT_COLUMNS = ["name", "teams", "state", "reason", "time", "actions staff-only"];
  const CAMPAIGN_COLUMNS = ["name", "mode", "dials", "connect", "abandon", "target", "progress"];

  function renderSnapshot(frame) {
    queues = frame.queues;
    const t = frame.totals;
    const totals = {
      waiting: String(t.waiting), longest: duration(t.longest_wait_s), service_level: percent(t.service_level),
      asa_s: duration(t.asa_s), abandon_rate: percent(t.abandon_rate), available: String(t.agents.available || 0),
    };
    for (const [key, text] of Object.entries(totals)) {
      document.querySelector(`[data-total="${key}"]`).textContent = text;
    }
    $("period-start").textContent = new Date(frame.period.start * 1000).toLocaleString();
    $("period-zone").textContent = frame.period.timezone;
    $("figures-at").textContent = clock(frame.at);

    const qbody = $("queues").tBodies[0];
    for (const [id, q] of Object.entries(frame.queues)) {
      const row = rowFor(qbody, id, "data-queue", QUEUE_COLUMNS);
      row.classList.toggle("below", q.below_target);
      row.dataset.oldest = q.oldest_arrival === null ? "" : String(q.oldest_arrival);
      set(row, "name", q.name);
      set(row, "waiting", String(q.waiting));
      set(row, "longest", duration(q.longest_wait_s));
      set(row, "sl", percent(q.service_level));
      set(row, "target", percent(q.service_level_target) + " in " + q.service_level_s + " s");
      set(row, "asa", duration(q.asa_s));
      set(row, "abandoned", q.abandoned + " (" + percent(q.abandon_rate) + ")");
      set(row, "offered", String(q.offered));
      set(row, "answered", String(q.answered));
      set(row, "agents", q.available + " / " + q.staffed);
    }
    prune(qbody, "data-queue", new Set(Object.keys(frame.queues)));

    for (const [id, entry] of Object.entries(frame.agents)) {
      const known = agents.get(id);
      if (known) known.entry = entry; else agents.set(id, { entry });
      renderAgent(id, entry);
    }
    for (const id of [...agents.keys()]) if (!(id in frame.agents)) agents.delete(id);
    prune($("agents").tBodies[0], "data-agent", new Set(Object.keys(frame.agents)));

    const cbody = $("campaigns").tBodies[0];
    for (const [id, c] of Object.entries(frame.campaigns)) {
      const row = rowFor(cbody, id, "data-campaign", CAMPAIGN_COLUMNS);
      set(row, "name", c.name + (c.active ? "" : " (paused)"));
      set(row, "mode", c.mode === c.mode_now ? c.mode : c.mode + " (" + c.mode_now + ")");
      set(row, "dials", String(c.dials));
      set(row, "connect", percent(c.connect_rate));
      set(row, "abandon", percent(c.abandon_rate));
      set(row, "target", percent(c.abandon_target));
      set(row, "progress", String(c.calls_in_progress));
      row.classList.toggle("below", c.abandon_rate !== null && c.abandon_rate > c.abandon_target);
    }
    prune(cbody, "data-campaign", new Set(Object.keys(frame.campaigns)));
    $("no-campaigns").hidden = Object.keys(frame.campaigns).length > 0;
  }

  function renderAgent(id, entry) {
    const tbody = $("agents").tBodies[0];
    const row = rowFor(tbody, id, "data-agent", AGENT_COLUMNS);
    if (!row.dataset.ready) {
      row.dataset.ready = "1";
      const actions = $("agent-actions").content.firstElementChild.cloneNode(true);
      actions.addEventListener("submit", (event) => { event.preventDefault(); setState(id, event.target); });
      actions.querySelector(".move").addEventListener("click", () => openMove(id));
      for (const button of actions.querySelectorAll(".supervise button")) {
        button.addEventListener("click", () => supervise(id, button.dataset.mode));
      }
      row.querySelector("td.actions").appendChild(actions);
    }
    set(row, "name", entry.name);
    set(row, "teams", entry.teams.join(", "));
    const state = row.querySelector("td.state");
    state.textContent = entry.state;
    state.dataset.state = entry.state;
    set(row, "reason", entry.reason);
    row.querySelector(".supervise").hidden = entry.state !== "on-contact";
    row.dataset.since = entry.since === null ? "" : String(entry.since);
    set(row, "time", entry.since === null ? "–" : duration(engineNow() - entry.since));
  }

  // Waits and times in state grow between frames: tick them here.
  setInterval(() => {
    const now = engineNow();
    for (const row of $("agents").tBodies[0].rows) {
      if (row.dataset.since) row.querySelector("td.time").textContent = duration(now - Number(row.dataset.since));
    }
    for (const row of $("queues").tBodies[0].rows) {
      if (row.dataset.oldest) row.querySelector("td.longest").textContent = duration(now - Number(row.dataset.oldest));
    }
  }, 1000);

  // ------------------------------------------------------------------------------------------ actions ----

  function report(text, failed) {
    const box = $("action-result");
    box.textContent = text;
    box.className = failed ? "error" : "";
  }

  async function setState(id, form) {
    const data = new FormData(form);
    const body = { state: data.get("state") };
    const reason = String(data.get("reason") || "").trim();
    if (body.state === "not-ready" && reason) body.reason = reason;
    try {
      const state = await api("PUT", `/v1/agents/${encodeURIComponent(id)}/state`, body);
      report(`${id}: ${state.state}`, false);
    } catch (error) {
      report(`${id}: ${error.message}`, true);
    }
  }

  async function openMove(id) {
    let current;
    try {
      current = new Set((await api("GET", `/v1/agents/${encodeURIComponent(id)}/queues`)).queues);
    } catch (error) {
      return report(`${id}: ${error.message}`, true);
    }
    $("move-agent").textContent = id;
    const box = $("move-queues");
    box.replaceChildren();
    for (const [qid, q] of Object.entries(queues)) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.name = "queue";
      input.value = qid;
      input.checked = current.has(qid);
      label.append(input, " " + q.name);
      box.appendChild(label);
    }
    const dialog = $("move-dialog");
    dialog.dataset.agent = id;
    dialog.showModal();
  }

  $("move-dialog").addEventListener("close", async () => {
    const dialog = $("move-dialog");
    if (dialog.returnValue !== "move") return;
    const id = dialog.dataset.agent;
    const chosen = [...dialog.querySelectorAll("input[name=queue]:checked")].map((input) => input.value);
    try {
      const served = await api("PUT", `/v1/agents/${encodeURIComponent(id)}/queues`, { queues: chosen });
      report(`${id} serves ${served.queues.join(", ") || "no queue"}`, false);
    } catch (error) {
      report(`${id}: ${error.message}`, true);
    }
  });

  // -------------------------------------------------------------------------------------- supervision ----

  let supervision = null; // {ws, line, agentId, mode}

  function showSupervision(state) {
    const box = $("supervision");
    box.hidden = !supervision;
    if (!supervision) return;
    $("supervision-agent").textContent = supervision.agentId;
    $("supervision-state").textContent = state;
    $("supervision-state").dataset.state = state;
    for (const button of box.querySelectorAll("button.mode")) {
      button.setAttribute("aria-pressed", String(button.dataset.mode === supervision.mode));
    }
  }

  function endSupervision(why, failed) {
    const sup = supervision;
    if (!sup) return;
    supervision = null;
    if (sup.line) sup.line.close();
    if (sup.ws.readyState === WebSocket.OPEN) sup.ws.send(JSON.stringify({ type: "stop" }));
    if (sup.ws.readyState <= WebSocket.OPEN) sup.ws.close(1000);
    showSupervision("");
    report(`${sup.agentId}: supervision over (${why})`, !!failed);
  }

  function supervise(agentId, mode) {
    if (supervision && supervision.agentId === agentId) return switchMode(mode);
    if (supervision) endSupervision("another call chosen");
    const ws = new WebSocket(wsUrl("/webrtc/ws/supervisor"));
    const sup = supervision = { ws, line: null, agentId, mode };
    const send = (frame) => ws.send(JSON.stringify(frame));
    showSupervision("connecting");
    ws.onopen = () => send({ type: "auth", token: sessionStorage.getItem(TOKEN_KEY) });
    ws.onmessage = async (message) => {
      const frame = JSON.parse(message.data);
      if (supervision !== sup) return;
      try {
        if (frame.type === "hello") {
          sup.line = new SwitchboardPhone.Line(await SwitchboardPhone.microphone(), frame.ice_servers, (state) => {
            if (supervision !== sup) return;
            if (state === "connected") showSupervision(sup.mode);
            else if (state === "failed") endSupervision("the media connection failed", true);
          });
          send({ type: "supervise", agent_id: agentId, mode, sdp: await sup.line.offer() });
        } else if (frame.type === "answer") {
          await sup.line.accept(frame.sdp);
        } else if (frame.type === "ack" && frame.of === "mode") {
          sup.mode = frame.mode;
          showSupervision(sup.line && sup.line.state === "connected" ? sup.mode : "connecting");
        } else if (frame.type === "ended") {
          endSupervision("the call ended");
        } else if (frame.type === "error") {
          if (frame.of === "supervise" || !frame.of) endSupervision(frame.reason, true);
          else report(`${agentId}: ${frame.reason}`, true);
        }
      } catch (error) {
        endSupervision(String(error), true);
      }
    };
    ws.onclose = (event) => {
      if (supervision === sup) endSupervision(event.reason || "the gateway closed the connection", true);
    };
  }

  function switchMode(mode) {
    if (!supervision || supervision.ws.readyState !== WebSocket.OPEN) return;
    supervision.ws.send(JSON.stringify({ type: "mode", mode }));
  }

  for (const button of $("supervision").querySelectorAll("button.mode")) {
    button.addEventListener("click", () => switchMode(button.dataset.mode));
  }
  $("supervision-stop").addEventListener("click", () => endSupervision("stopped"));

  connect();
})();
