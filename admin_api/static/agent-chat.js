// Agent chat panel: one WebSocket to /chat/ws/agent/<id>; several chats at once (docs/channels.md).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const wsUrl = (path) => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  const views = new Map(); // contact id -> conversation element
  let socket = null;
  const send = (frame) => socket && socket.send(JSON.stringify(frame));

  function addLine(contactId, who, text) {
    const view = views.get(contactId);
    if (!view) return;
    const li = document.createElement("li");
    li.className = who;
    li.textContent = text;
    view.querySelector(".lines").appendChild(li);
  }

  function openConversation(contactId, customer) {
    const view = $("conversation-template").content.firstElementChild.cloneNode(true);
    view.querySelector("h2").textContent = customer + " (" + contactId + ")";
    view.querySelector(".say").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = event.target.elements.text;
      send({ type: "message", contact_id: contactId, text: input.value });
      addLine(contactId, "agent", input.value);
      input.value = "";
    });
    view.querySelector(".end").addEventListener("click", () => send({ type: "end", contact_id: contactId }));
    view.querySelector(".wrap").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      send({ type: "wrap-up", contact_id: contactId, disposition: form.get("disposition"), notes: form.get("notes") });
    });
    views.set(contactId, view);
    $("conversations").appendChild(view);
  }

  function showWrapUp(contactId) {
    const view = views.get(contactId);
    if (!view) return;
    view.querySelector(".say").hidden = true;
    view.querySelector(".end").hidden = true;
    view.querySelector(".wrap").hidden = false;
  }

  function showOffer(frame) {
    const box = document.createElement("div");
    box.className = "offer";
    box.id = "offer-" + frame.contact_id;
    const who = frame.customer_record && frame.customer_record.name ? frame.customer_record.name : frame.customer;
    const history = (frame.history || []).map((h) => "• " + (h.summary || JSON.stringify(h))).join("\n");
    box.innerText = "Chat from " + who + " in " + frame.queue + (history ? "\nHistory:\n" + history : "") + "\n";
    for (const [label, type] of [["Accept", "accept"], ["Decline", "decline"]]) {
      const button = document.createElement("button");
      button.textContent = label;
      button.addEventListener("click", () => { send({ type, contact_id: frame.contact_id }); box.remove(); });
      box.appendChild(button);
    }
    $("offers").appendChild(box);
  }

  const handlers = {
    hello: (f) => { $("status").textContent = "Connected as " + f.agent_id; },
    offer: showOffer,
    "offer-cancelled": (f) => { const box = $("offer-" + f.contact_id); if (box) box.remove(); },
    connected: (f) => {
      openConversation(f.contact_id, f.customer);
      for (const m of f.messages || []) addLine(f.contact_id, "customer", m.text);
    },
    message: (f) => addLine(f.contact_id, f.from, f.text),
    "customer-left": (f) => { addLine(f.contact_id, "system", "The customer left."); showWrapUp(f.contact_id); },
    ended: (f) => { addLine(f.contact_id, "system", "Chat ended (" + f.reason + ")."); showWrapUp(f.contact_id); },
    ack: (f) => {
      if (f.of === "wrap-up" && views.has(f.contact_id)) { views.get(f.contact_id).remove(); views.delete(f.contact_id); }
      if (f.of === "ready" || f.of === "not-ready") $("status").textContent = f.of;
    },
    error: (f) => { $("errors").textContent = f.reason; },
  };

  // Log in (user name and password -> a session token), then open the socket and authenticate on its first frame.
  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const reply = await fetch("/v1/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
    });
    const body = await reply.json();
    if (!reply.ok) { $("login-error").textContent = body.reason; return; }
    const agent = body.user.agent_id;
    if (!agent) { $("login-error").textContent = "this user is not an agent"; return; }
    socket = new WebSocket(wsUrl("/chat/ws/agent/" + encodeURIComponent(agent)));
    socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: body.token }));
    socket.onmessage = (msg) => {
      const frame = JSON.parse(msg.data);
      (handlers[frame.type] || (() => {}))(frame);
    };
    socket.onclose = () => { $("status").textContent = "Disconnected."; };
    $("login").hidden = true;
    $("desk").hidden = false;
  });
  $("ready").addEventListener("click", () => send({ type: "ready" }));
  $("not-ready").addEventListener("click", () => send({ type: "not-ready", reason: "break" }));
})();
