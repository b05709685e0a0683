// The agent desktop (/agent): docs/agent-desktop.md says what it does, docs/gateway.md the frames it speaks.
//
// Sign in (POST /v1/auth/login) and four connections: the gateway's agent socket /webrtc/ws/agent/<id> (the
// session, the phone line, state changes, offers and every call control), the phone line itself (phone.js), the
// chat agent socket (chat-panel.js: chats beside the call) and the live stream /v1/stream (this agent's state
// and the waiting counts of the queues). The token, the agent id, the gateway session id and the call in hand
// are kept in sessionStorage: a reload resumes the session and the call goes on (docs/gateway.md, "resume").
// body[data-phone] is idle | ringing | connected | wrap-up (what the page shows; the tests wait on it).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const Phone = window.SwitchboardPhone;
  const KEY = { token: "switchboard-agent-token", agent: "switchboard-agent-id", name: "switchboard-agent-name",
    session: "switchboard-agent-session", call: "switchboard-agent-call" };
  const saved = (key) => sessionStorage.getItem(KEY[key]);
  const save = (key, value) => sessionStorage.setItem(KEY[key], value);

  let me = null; // {agentId, token, name}
  let gateway = null; // the gateway's socket
  let retry = 0;
  let line = null; // Phone.Line
  let microphone = null;
  let iceServers = [];
  let chats = null;
  let live = null;
  let contact = null; // {id, phase: ringing | connected | wrap-up, muted, held, offer, since, consult}
  let dispositions = ["resolved"];
  let queues = []; // [{id, name, channel}]
  const served = new Set();
  let optional = null; // the queues an agent may join or leave itself (null: staff, who may move any)
  let engineOffset = 0; // engine time - this browser's clock, from the live stream

  // ------------------------------------------------------------------------------------------ helpers ----

  function report(text) {
    $("errors").textContent = text || "";
  }

  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (me) headers.Authorization = "Bearer " + me.token;
    const reply = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await reply.text();
    const data = text ? JSON.parse(text) : null;
    if (!reply.ok) {
      const error = new Error((data && data.reason) || reply.status + " " + reply.statusText);
      error.status = reply.status;
      throw error;
    }
    return data;
  }

  function send(frame) {
    if (!gateway || gateway.readyState !== WebSocket.OPEN) {
      report("Not connected to the phone system; trying again…");
      return false;
    }
    gateway.send(JSON.stringify(frame));
    return true;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function entries(dl, record) {
    dl.replaceChildren();
    for (const [key, value] of Object.entries(record || {})) {
      if (value === null || value === undefined || value === "" || typeof value === "object") continue;
      const dt = document.createElement("dt");
      dt.textContent = key.replace(/_/g, " ");
      const dd = document.createElement("dd");
      dd.textContent = String(value);
      dl.append(dt, dd);
    }
  }

  function items(list, rows, describe) {
    list.replaceChildren();
    for (const row of rows || []) {
      const li = document.createElement("li");
      li.textContent = describe(row);
      list.appendChild(li);
    }
    if (!list.children.length) {
      const li = document.createElement("li");
      li.className = "hint";
      li.textContent = "none";
      list.appendChild(li);
    }
  }

  const when = (t) => (typeof t === "number" ? new Date(t * 1000).toLocaleString() : t || "");

  // ------------------------------------------------------------------------------------------ sign in ----

  function showLogin(message) {
    $("login").hidden = false;
    $("desk").hidden = true;
    $("sign-out").hidden = true;
    $("login-error").textContent = message || "";
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      const session = await api("POST", "/v1/auth/login",
        { username: form.get("username"), password: form.get("password") });
      if (!session.user.agent_id) return showLogin("This user is not an agent.");
      sessionStorage.removeItem(KEY.session);
      sessionStorage.removeItem(KEY.call);
      save("token", session.token);
      save("agent", session.user.agent_id);
      save("name", session.user.name || session.user.agent_id);
      await start();
    } catch (error) {
      showLogin(error.message);
    }
  });

  $("sign-out").addEventListener("click", async () => {
    send({ type: "state", state: "logged-out" });
    try { await api("POST", "/v1/auth/logout"); } catch (error) { /* the token may be gone already */ }
    const old = gateway;
    gateway = null;
    if (old) old.close();
    if (line) line.close();
    line = null;
    if (chats) chats.close();
    if (live) live.close();
    for (const key of Object.values(KEY)) sessionStorage.removeItem(key);
    me = null;
    setPhone("idle");
    showLogin("Signed out.");
  });

  async function start() {
    me = { token: saved("token"), agentId: saved("agent"), name: saved("name"), role: "agent" };
    try {
      me.role = (await api("GET", "/v1/me")).role;
    } catch (error) {
      for (const key of Object.values(KEY)) sessionStorage.removeItem(key);
      me = null;
      return showLogin(error.status === 401 ? "Your session has expired: sign in again." : error.message);
    }
    $("who").textContent = me.name + " (" + me.agentId + ")";
    $("login").hidden = true;
    $("desk").hidden = false;
    $("sign-out").hidden = false;
    contact = JSON.parse(saved("call") || "null");
    render();
    connectGateway();
    openChats();
    openLive();
    loadReference();
  }

  async function loadReference() {
    try {
      dispositions = (await api("GET", "/v1/dispositions")).dispositions;
    } catch (error) { /* keep the default */ }
    fillDispositions();
    try {
      queues = (await api("GET", "/v1/queues?limit=1000")).items;
      const mine = (await api("GET", `/v1/agents/${encodeURIComponent(me.agentId)}/queues`)).queues;
      served.clear();
      for (const q of mine) served.add(q);
      if (me.role === "agent") {
        optional = new Set((await api("GET", `/v1/agents/${encodeURIComponent(me.agentId)}`)).optional_queues);
      }
    } catch (error) {
      report(error.message);
    }
    $("campaigns-box").hidden = true; // agents do not see campaigns (GET /v1/campaigns is staff's): their queues do
    if (me.role !== "agent") {
      try {
        renderCampaigns((await api("GET", "/v1/campaigns?limit=1000")).items);
      } catch (error) {
        report(error.message);
      }
    }
    renderQueues();
    try {
      const agents = (await api("GET", "/v1/agents?limit=1000")).items;
      $("agent-list").replaceChildren(...agents.filter((a) => a.id !== me.agentId).map((a) => {
        const option = document.createElement("option");
        option.value = a.id;
        option.label = a.name + " (" + a.state.state + ")";
        return option;
      }));
    } catch (error) { /* an agent sees itself only: the field takes any agent id */ }
  }

  function fillDispositions() {
    for (const select of document.querySelectorAll("#disposition, select.dispositions")) {
      if (select.options.length === dispositions.length) continue;
      select.replaceChildren(...dispositions.map((d) => new Option(d, d)));
    }
  }

  // ------------------------------------------------------------------------------------------- queues ----

  function renderQueues(waiting) {
    const list = $("queues");
    if (!waiting) {
      list.replaceChildren();
      const choice = !optional || queues.some((q) => optional.has(q.id));
      $("queues-save").hidden = !choice;
      if (!choice) $("queues-note").textContent = "Your supervisor assigns your queues.";
    }
    for (const q of queues) {
      let li = list.querySelector(`li[data-queue="${CSS.escape(q.id)}"]`);
      if (!li) {
        li = document.createElement("li");
        li.dataset.queue = q.id;
        const label = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.value = q.id;
        box.checked = served.has(q.id);
        const count = document.createElement("span");
        count.className = "waiting hint";
        label.append(box, " " + (q.name || q.id) + " ", count);
        li.appendChild(label);
        list.appendChild(li);
      }
      const box = li.querySelector("input");
      box.disabled = !!optional && !optional.has(q.id);
      box.title = box.disabled ? "assigned by your supervisor" : "";
      const figures = waiting && waiting[q.id];
      if (figures) li.querySelector(".waiting").textContent = figures.waiting ? figures.waiting + " waiting" : "";
    }
    const select = $("transfer-queue");
    if (select.options.length !== queues.filter((q) => q.channel === "voice").length) {
      select.replaceChildren(...queues.filter((q) => q.channel === "voice").map((q) => new Option(q.name || q.id, q.id)));
    }
  }

  function renderCampaigns(campaigns) {
    $("campaigns-box").hidden = campaigns.length === 0;
    $("campaigns").replaceChildren(...campaigns.map((c) => {
      const li = document.createElement("li");
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.dataset.campaign = c.id;
      box.value = c.queue;
      box.checked = served.has(c.queue);
      box.addEventListener("change", () => {
        const queueBox = $("queues").querySelector(`input[value="${CSS.escape(c.queue)}"]`);
        if (queueBox) queueBox.checked = box.checked;
      });
      label.append(box, ` ${c.name || c.id} (${c.mode}, queue ${c.queue})${c.active ? "" : " — paused"}`);
      li.appendChild(label);
      return li;
    }));
  }

  $("queues-save").addEventListener("click", async () => {
    const chosen = [...$("queues").querySelectorAll("input:checked")].map((box) => box.value);
    try {
      const answer = await api("PUT", `/v1/agents/${encodeURIComponent(me.agentId)}/queues`, { queues: chosen });
      served.clear();
      for (const q of answer.queues) served.add(q);
      $("queues-note").textContent = "You serve " + (answer.queues.join(", ") || "no queue") + ".";
    } catch (error) {
      $("queues-note").textContent = error.message;
      for (const box of $("queues").querySelectorAll("input")) box.checked = served.has(box.value);
    }
    for (const box of $("campaigns").querySelectorAll("input")) box.checked = served.has(box.value);
  });

  // ------------------------------------------------------------------------------------- live stream ----

  function showState(state, reason) {
    $("state-text").textContent = state || "–";
    $("state-reason").textContent = state === "not-ready" && reason ? "(" + reason + ")" : "";
    $("my-state").textContent = state || "";
    $("my-state").dataset.state = state || "";
  }

  function openLive() {
    const ws = new WebSocket(Phone.wsUrl("/v1/stream"));
    live = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: me.token }));
    ws.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.at) engineOffset = frame.at - Date.now() / 1000;
      if (frame.type === "snapshot") {
        const mine = frame.agents[me.agentId];
        if (mine) showState(mine.state, mine.reason);
        renderQueues(frame.queues);
      } else if (frame.type === "agents") {
        for (const change of frame.changes) if (change.agent_id === me.agentId) showState(change.state, change.reason);
      }
    };
    ws.onclose = () => { if (live === ws && me) setTimeout(openLive, 2000); };
  }

  // ------------------------------------------------------------------------------------------- chats ----

  function openChats() {
    chats = window.SwitchboardChats.open({
      agentId: me.agentId, token: me.token, offers: $("chat-offers"), conversations: $("chat-conversations"),
      template: $("conversation-template"),
      onStatus: (text) => { $("chat-status").textContent = text.startsWith("Connected") ? "" : text; },
      onError: report,
      onChange: fillDispositions,
    });
  }

  // ----------------------------------------------------------------------------------- gateway socket ----

  function setLine(text, up) {
    $("line-status").textContent = text;
    $("line-status").className = up ? "live" : "offline";
  }

  function connectGateway() {
    const ws = new WebSocket(Phone.wsUrl("/webrtc/ws/agent/" + encodeURIComponent(me.agentId)));
    gateway = ws;
    setLine("connecting", false);
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "auth", token: me.token }));
      const frame = { type: "session" };
      if (saved("session")) frame.resume = saved("session");
      ws.send(JSON.stringify(frame));
    };
    ws.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      const handler = handlers[frame.type];
      if (handler) Promise.resolve(handler(frame)).catch((error) => report(String(error)));
    };
    ws.onclose = (event) => {
      if (gateway !== ws) return;
      gateway = null;
      setLine("offline", false);
      if (event.code === 4401 || event.code === 4403) return showLogin(event.reason || "Not allowed: sign in again.");
      if (event.code === 4409) return report("This desk was opened in another window: use that one (or reload).");
      retry = Math.min(retry + 1, 5);
      const delay = event.code === 4503 ? 5000 : 400 * retry; // 4503: no gateway on this server (yet)
      if (event.code === 4503) report("The phone system is not available on this server.");
      setTimeout(() => { if (me && !gateway) connectGateway(); }, delay);
    };
  }

  // A new line: a new peer connection and its offer (the first, after a reload, after the line was lost); the
  // gateway makes a new leg of it and moves a live call to it.
  async function openLine() {
    if (!microphone) microphone = await Phone.microphone();
    if (line) line.close();
    const mine = new Phone.Line(microphone, iceServers, (state) => {
      if (line !== mine) return;
      document.body.dataset.line = state;
      if (state === "connected") setLine("line up", true);
      else if (state === "failed") lineLost();
    });
    line = mine;
    if (contact && contact.muted) line.mute(true);
    send({ type: "offer", sdp: await line.offer() });
  }

  function lineLost() {
    setLine("reconnecting line", false);
    openLine().catch((error) => report(String(error)));
  }

  const handlers = {
    authenticated: () => { retry = 0; },
    session: async (f) => {
      save("session", f.id);
      if (f.ice_servers) iceServers = f.ice_servers;
      if (f.resumed) resumed(f.call);
      else if (contact && contact.phase !== "wrap-up") clearCall();
      const alive = f.resumed && f.line === "up" && line && line.state === "connected";
      if (alive) setLine("line up", true);
      else {
        setLine("connecting line", false);
        await openLine();
      }
      showAudioButton();
    },
    answer: async (f) => { if (line) await line.accept(f.sdp); },
    line: (f) => {
      if (f.state === "up") setLine("line up", true);
      else if (f.state === "lost") lineLost();
    },
    "offer-contact": (f) => ring(f),
    dialing: (f) => { if (contact && contact.id === f.contact_id) $("offer-kind").textContent = "Dialling " + (f.number || "") + "…"; },
    connected: (f) => connect(f.contact_id),
    ended: (f) => ended(f),
    ack: (f) => acked(f),
    error: (f) => report(f.reason || f.code),
    consult: (f) => consultOffer(f),
    consulting: (f) => {
      if (contact && contact.id === f.contact_id && contact.phase === "connected") consulting(f.with, true);
      else consultTalking(f);
    },
    "consult-declined": (f) => { consulting("", false); report((f.by || "The colleague") + " declined the consultation."); },
    "consult-ended": () => { $("consult-offer").hidden = true; },
    supervisor: (f) => {
      $("supervisor-note").hidden = !f.mode;
      $("supervisor-note").textContent = f.mode ? `${f.supervisor || "A supervisor"} is on the call (${f.mode}).` : "";
    },
  };

  // ---------------------------------------------------------------------------------------- the call ----

  function setPhone(phase) {
    document.body.dataset.phone = phase;
    $("offer").hidden = phase !== "ringing";
    $("call").hidden = phase !== "connected";
    $("wrapup").hidden = phase !== "wrap-up";
    $("screen-pop").hidden = phase === "idle";
    Phone.ring(phase === "ringing");
  }

  function keep() {
    if (contact) save("call", JSON.stringify(contact));
    else sessionStorage.removeItem(KEY.call);
  }

  function screenPop(offer) {
    const pop = offer.screen_pop || {};
    const customer = pop.customer || {};
    entries($("customer"), { name: customer.name, id: customer.customer_id || customer.id,
      customer: offer.customer || pop.query, ...(customer.attributes || {}) });
    items($("history"), pop.history, (h) => [when(h.arrived || h.at), h.channel, h.queue, h.outcome, h.disposition,
      h.notes || h.summary].filter(Boolean).join(" · "));
    items($("tickets"), pop.tickets, (t) => `${t.reference} ${t.subject} (${t.status}, ${t.department})`);
    items($("ivr-path"), offer.ivr_path, (step) => (typeof step === "string" ? step
      : [step.menu, step.digits && "pressed " + step.digits, step.language].filter(Boolean).join(" · ")));
    const lead = offer.lead;
    $("lead-box").hidden = !lead;
    if (lead) entries($("lead"), { ...(lead.fields || {}), number: lead.number, lead: lead.id, campaign: lead.campaign });
    $("callback-number").value = (lead && lead.number) || offer.customer || "";
  }

  function ring(offer) {
    contact = { id: offer.contact_id, phase: "ringing", muted: false, held: false, offer, since: Date.now() };
    keep();
    const preview = !!((offer.lead && offer.lead.preview) || offer.preview);
    $("offer-kind").textContent = preview ? "Preview: call this lead?" : "Incoming call";
    $("offer-queue").textContent = offer.queue || "";
    $("offer-contact").textContent = offer.contact_id;
    $("answer").hidden = $("decline").hidden = preview;
    $("dial").hidden = $("skip").hidden = !preview;
    screenPop(offer);
    setPhone("ringing");
  }

  // The call as the page kept it (sessionStorage) or as the gateway's resumed session tells it.
  function render() {
    if (!contact) return setPhone("idle");
    screenPop(contact.offer || {});
    if (contact.phase === "ringing") ring(contact.offer);
    else if (contact.phase === "wrap-up") wrapUp();
    else showCall();
  }

  function resumed(call) {
    if (!call) {
      // The gateway kept no live call: one that was talking ended meanwhile (its wrap-up is still due).
      if (contact && contact.phase === "connected") wrapUp();
      else if (contact && contact.phase === "ringing") clearCall();
      return;
    }
    const id = call.contact_id;
    if (!contact || contact.id !== id) {
      contact = { id, phase: "connected", muted: false, held: false, offer: call.offer || call, since: Date.now() };
    }
    const phase = call.phase || call.state;
    contact.phase = phase === "offered" || phase === "ringing" ? "ringing" : phase === "wrap-up" ? "wrap-up" : "connected";
    if (typeof call.muted === "boolean") contact.muted = call.muted;
    if (typeof call.held === "boolean") contact.held = call.held;
    keep();
    render();
  }

  function connect(contactId) {
    if (!contact || contact.id !== contactId) {
      contact = { id: contactId, phase: "connected", muted: false, held: false, offer: { contact_id: contactId },
        since: Date.now() };
    }
    contact.phase = "connected";
    contact.since = Date.now();
    $("consult-offer").hidden = true;
    keep();
    showCall();
  }

  function showCall() {
    $("call-contact").textContent = contact.id;
    $("transfer-form").hidden = true;
    $("consult").hidden = !contact.consult;
    flags();
    setPhone("connected");
  }

  function flags() {
    $("mute").setAttribute("aria-pressed", String(contact.muted));
    $("mute").firstChild.textContent = contact.muted ? "Unmute " : "Mute ";
    $("hold").setAttribute("aria-pressed", String(contact.held));
    $("hold").firstChild.textContent = contact.held ? "Resume " : "Hold ";
    $("call-flags").textContent = [contact.held && "on hold", contact.muted && "muted", contact.consult && "consulting"]
      .filter(Boolean).join(", ") || "talking";
    if (line) line.mute(contact.muted);
  }

  function ended(frame) {
    if (!contact || contact.id !== frame.contact_id) return;
    if (contact.phase === "ringing") {
      clearCall();
      report(frame.reason ? "The offer ended: " + frame.reason : "");
      return;
    }
    if (contact.phase === "connected") wrapUp();
  }

  function wrapUp() {
    contact.phase = "wrap-up";
    contact.consult = null;
    keep();
    $("wrapup-contact").textContent = contact.id;
    $("callback-box").hidden = !(contact.offer && contact.offer.lead); // a callback reschedules a campaign's lead
    fillDispositions();
    setPhone("wrap-up");
  }

  function clearCall() {
    contact = null;
    keep();
    $("wrapup-form").reset();
    setPhone("idle");
  }

  function acked(frame) {
    if (frame.of === "wrap-up" && contact && contact.id === frame.contact_id) clearCall();
    if (frame.of === "decline" && contact && contact.id === frame.contact_id) clearCall();
    if (frame.of === "preview" && contact && contact.id === frame.contact_id && !contact.dialled) clearCall();
  }

  // --------------------------------------------------------------------------------------- controls ----

  function answer() {
    if (!contact || contact.phase !== "ringing") return;
    Phone.resumeAudio();
    if (!$("dial").hidden) return dial(true);
    Phone.ring(false);
    send({ type: "accept", contact_id: contact.id });
  }

  function decline() {
    if (!contact || contact.phase !== "ringing") return;
    if (!$("skip").hidden) return dial(false);
    send({ type: "decline", contact_id: contact.id });
  }

  function dial(yes) {
    contact.dialled = yes;
    keep();
    Phone.ring(false);
    send({ type: "preview", contact_id: contact.id, dial: yes });
  }

  function toggle(flag, on, off) {
    if (!contact || contact.phase !== "connected") return;
    const next = !contact[flag];
    if (send({ type: next ? on : off, contact_id: contact.id })) {
      contact[flag] = next;
      keep();
      flags();
    }
  }

  function hangup() {
    if (!contact || contact.phase !== "connected") return;
    send({ type: "hangup", contact_id: contact.id });
  }

  function openTransfer() {
    if (!contact || contact.phase !== "connected") return;
    $("transfer-form").hidden = false;
    $("transfer-queue").focus();
  }

  $("answer").addEventListener("click", answer);
  $("decline").addEventListener("click", decline);
  $("dial").addEventListener("click", answer);
  $("skip").addEventListener("click", decline);
  $("mute").addEventListener("click", () => toggle("muted", "mute", "unmute"));
  $("hold").addEventListener("click", () => toggle("held", "hold", "unhold"));
  $("hangup").addEventListener("click", hangup);
  $("transfer").addEventListener("click", openTransfer);
  $("transfer-cancel").addEventListener("click", () => { $("transfer-form").hidden = true; });
  $("ready").addEventListener("click", () => send({ type: "state", state: "available" }));
  $("not-ready").addEventListener("click", () => send({ type: "state", state: "not-ready", reason: $("reason").value }));

  $("transfer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const frame = { type: "transfer", contact_id: contact.id, consult: form.get("consult") === "on" };
    const target = form.get("to") === "agent" ? String(form.get("agent") || "").trim() : form.get("queue");
    if (!target) return report("Choose where to transfer the call.");
    frame[form.get("to") === "agent" ? "to_agent" : "to_queue"] = target;
    if (!send(frame)) return;
    $("transfer-form").hidden = true;
    if (frame.consult) consulting(target, true);
  });

  function consulting(target, on) {
    if (!contact) return;
    contact.consult = on ? target || contact.consult || "a colleague" : null;
    $("consult-target").textContent = contact.consult || "";
    $("consult").hidden = !on;
    keep();
    flags();
  }

  $("consult-complete").addEventListener("click", () => {
    send({ type: "consult-complete", contact_id: contact.id });
  });
  $("consult-cancel").addEventListener("click", () => {
    if (send({ type: "consult-cancel", contact_id: contact.id })) consulting("", false);
  });

  // The target of a consultation: asked, then talking with the colleague (the caller hears music meanwhile).
  function consultOffer(frame) {
    $("consult-title").textContent = "A colleague asks to consult";
    $("consult-from").textContent = frame.from || "A colleague";
    $("consult-contact").textContent = frame.contact_id;
    $("consult-offer").dataset.contact = frame.contact_id;
    $("consult-answer").hidden = false;
    $("consult-offer").classList.add("ringing");
    $("consult-offer").hidden = false;
    Phone.ring(true);
  }

  function consultTalking(frame) {
    $("consult-title").textContent = "Consultation";
    $("consult-from").textContent = frame.with || "a colleague";
    $("consult-answer").hidden = true;
    $("consult-offer").classList.remove("ringing");
    $("consult-offer").hidden = false;
  }

  for (const [button, type] of [["consult-accept", "consult-accept"], ["consult-decline", "consult-decline"]]) {
    $(button).addEventListener("click", () => {
      Phone.ring(false);
      Phone.resumeAudio();
      send({ type, contact_id: $("consult-offer").dataset.contact });
      if (type === "consult-decline") $("consult-offer").hidden = true;
    });
  }

  $("wrapup-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!contact) return;
    const form = new FormData(event.target);
    const frame = { type: "wrap-up", contact_id: contact.id, disposition: form.get("disposition"),
      notes: String(form.get("notes") || "") };
    if (form.get("callback") === "on" && !$("callback-box").hidden) {
      const at = Date.parse(String(form.get("callback_at") || ""));
      if (Number.isNaN(at)) return report("Choose when to call back.");
      frame.callback = { at: at / 1000 + engineOffset, number: String(form.get("callback_number") || "").trim() };
    }
    send(frame);
  });

  // ------------------------------------------------------------------------------- timers and audio ----

  function showAudioButton() {
    $("enable-audio").hidden = !Phone.audioBlocked();
  }

  $("enable-audio").addEventListener("click", async () => {
    await Phone.resumeAudio();
    showAudioButton();
  });

  setInterval(() => {
    showAudioButton();
    if (!contact) return;
    if (contact.phase === "connected") $("call-timer").textContent = clock((Date.now() - contact.since) / 1000);
    const deadline = contact.offer && contact.offer.deadline;
    if (contact.phase === "ringing" && typeof deadline === "number") {
      $("offer-countdown").textContent = clock(deadline - (Date.now() / 1000 + engineOffset));
    }
  }, 500);

  // -------------------------------------------------------------------------------------- shortcuts ----

  const SHORTCUTS = {
    a: answer,
    d: decline,
    m: () => toggle("muted", "mute", "unmute"),
    h: () => toggle("held", "hold", "unhold"),
    t: openTransfer,
    x: hangup,
    r: () => $("ready").click(),
    n: () => $("not-ready").click(),
    w: () => { if (!$("wrapup").hidden) $("notes").focus(); },
    c: () => chats && chats.focus(),
  };

  document.addEventListener("keydown", (event) => {
    if (!me) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !$("wrapup").hidden) {
      event.preventDefault();
      $("wrapup-form").requestSubmit();
      return;
    }
    if (event.key === "Escape") {
      $("transfer-form").hidden = true;
      if (document.activeElement) document.activeElement.blur();
      return;
    }
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.target.closest && event.target.closest("input, textarea, select")) return;
    const action = SHORTCUTS[event.key.toLowerCase()];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  // ---------------------------------------------------------------------------------------------- go ----

  if (saved("token") && saved("agent")) start();
  else showLogin("");
})();
