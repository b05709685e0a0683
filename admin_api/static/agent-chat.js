// Agent chat panel: one WebSocket to /chat/ws/agent/<id>; several chats at once (docs/channels.md). The chats
// themselves are SwitchboardChats (chat-panel.js), shared with the agent desktop.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let chats = null;

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
    chats = SwitchboardChats.open({
      agentId: agent, token: body.token, offers: $("offers"), conversations: $("conversations"),
      template: $("conversation-template"),
      onStatus: (text) => { $("status").textContent = text; },
      onError: (reason) => { $("errors").textContent = reason; },
    });
    $("login").hidden = true;
    $("desk").hidden = false;
  });
  $("ready").addEventListener("click", () => chats && chats.send({ type: "ready" }));
  $("not-ready").addEventListener("click", () => chats && chats.send({ type: "not-ready", reason: "break" }));
})();
