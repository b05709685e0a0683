// An agent's chats: one WebSocket to /chat/ws/agent/<id> (admin_api/chat.py), several conversations at once.
// Shared by the agent chat panel (/chat/agent) and the agent desktop (/agent, chats beside a call).
//
// SwitchboardChats.open({agentId, token, offers, conversations, template, onStatus, onError, onChange}) opens the
// socket, authenticates with its first frame, renders offers into `offers` and conversations (clones of
// `template`) into `conversations`; returns {send(frame), close(), count()}. onStatus(text) hears "Connected as
// …", ready / not-ready acks and "Disconnected."; onError(reason) the error frames; onChange() any change of the
// offers or conversations shown.
"use strict";
window.SwitchboardChats = (function () {
  const wsUrl = (path) => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;

  function open(options) {
    const views = new Map(); // contact id -> conversation element
    const onStatus = options.onStatus || (() => {});
    const onError = options.onError || (() => {});
    const onChange = options.onChange || (() => {});
    const socket = new WebSocket(wsUrl("/chat/ws/agent/" + encodeURIComponent(options.agentId)));
    const send = (frame) => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(frame));

    function addLine(contactId, who, text) {
      const view = views.get(contactId);
      if (!view) return;
      const li = document.createElement("li");
      li.className = who;
      li.textContent = text;
      view.querySelector(".lines").appendChild(li);
    }

    function openConversation(contactId, customer) {
      const view = options.template.content.firstElementChild.cloneNode(true);
      view.dataset.contact = contactId;
      view.querySelector("h2, h3").textContent = (customer || "Customer") + " (" + contactId + ")";
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
      options.conversations.appendChild(view);
      onChange();
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
      box.id = "chat-offer-" + frame.contact_id;
      const who = frame.customer_record && frame.customer_record.name ? frame.customer_record.name : frame.customer;
      const history = (frame.history || []).map((h) => "• " + (h.summary || JSON.stringify(h))).join("\n");
      const kind = frame.channel === "email" ? "E-mail" : "Chat";
      box.innerText = kind + " from " + who + " in " + frame.queue + (history ? "\nHistory:\n" + history : "") + "\n";
      for (const [label, type] of [["Accept", "accept"], ["Decline", "decline"]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = type;
        button.textContent = label;
        button.addEventListener("click", () => { send({ type, contact_id: frame.contact_id }); box.remove(); onChange(); });
        box.appendChild(button);
      }
      options.offers.appendChild(box);
      onChange();
    }

    function removeOffer(contactId) {
      const box = document.getElementById("chat-offer-" + contactId);
      if (box) { box.remove(); onChange(); }
    }

    const handlers = {
      hello: (f) => onStatus("Connected as " + f.agent_id),
      offer: showOffer,
      "offer-cancelled": (f) => removeOffer(f.contact_id),
      connected: (f) => {
        openConversation(f.contact_id, f.customer);
        for (const m of f.messages || []) addLine(f.contact_id, "customer", m.text);
      },
      message: (f) => addLine(f.contact_id, f.from, f.text),
      "customer-left": (f) => { addLine(f.contact_id, "system", "The customer left."); showWrapUp(f.contact_id); },
      ended: (f) => { addLine(f.contact_id, "system", "Chat ended (" + f.reason + ")."); showWrapUp(f.contact_id); },
      ack: (f) => {
        if (f.of === "wrap-up" && views.has(f.contact_id)) {
          views.get(f.contact_id).remove();
          views.delete(f.contact_id);
          onChange();
        }
        if (f.of === "ready" || f.of === "not-ready") onStatus(f.of);
      },
      error: (f) => onError(f.reason),
    };

    socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: options.token }));
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      (handlers[frame.type] || (() => {}))(frame);
    };
    socket.onclose = () => onStatus("Disconnected.");
    return {
      send,
      close: () => socket.close(),
      count: () => views.size + options.offers.children.length,
      focus: () => {
        const input = options.conversations.querySelector(".say:not([hidden]) input");
        if (input) input.focus();
        return !!input;
      },
    };
  }

  return { open };
})();
