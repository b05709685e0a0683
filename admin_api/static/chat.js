// Customer chat widget: one WebSocket to /chat/ws/customer, JSON frames with a "type" (docs/channels.md).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const wsUrl = (path) => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  let socket = null;

  function line(who, text) {
    const li = document.createElement("li");
    li.className = who;
    li.textContent = text;
    $("lines").appendChild(li);
    li.scrollIntoView();
  }

  const handlers = {
    joined: () => { $("status").textContent = "Waiting for an agent…"; },
    connected: (f) => { $("status").textContent = "You are chatting with " + f.agent + "."; },
    message: (f) => line(f.from, f.text),
    system: (f) => line("system", f.text),
    ended: () => {
      $("status").textContent = "The chat has ended.";
      $("say").hidden = true;
      $("survey").hidden = false;
    },
    error: (f) => line("error", "Error: " + f.reason),
  };

  // The satisfaction survey, offered once the chat has ended: one click, then the socket may close.
  $("survey").addEventListener("click", (event) => {
    const score = Number(event.target.dataset.score);
    if (!score || !socket) return;
    socket.send(JSON.stringify({ type: "survey", score: score }));
    $("survey").hidden = true;
  });

  $("join").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    socket = new WebSocket(wsUrl("/chat/ws/customer"));
    socket.onopen = () => socket.send(JSON.stringify({
      type: "join", customer: form.get("customer"), name: form.get("name"), queue: form.get("queue"),
    }));
    socket.onmessage = (msg) => {
      const frame = JSON.parse(msg.data);
      (handlers[frame.type] || (() => {}))(frame);
    };
    socket.onclose = () => { $("status").textContent = "Disconnected."; };
    $("join").hidden = true;
    $("conversation").hidden = false;
  });

  $("say").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = event.target.elements.text;
    if (!socket || !input.value.trim()) return;
    socket.send(JSON.stringify({ type: "message", text: input.value }));
    line("customer", input.value);
    input.value = "";
  });

  $("leave").addEventListener("click", () => {
    if (socket) { socket.send(JSON.stringify({ type: "leave" })); socket.close(); }
  });
})();
