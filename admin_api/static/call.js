// The web caller (/call): one call at a time over /webrtc/ws/caller (docs/gateway.md, "Signalling").
// Call: the microphone, an offer, {"type": "call"}; the gateway's answer connects the line; its status frames are
// shown as they come (IVR, waiting: position and estimated wait, connected). The keypad sends DTMF in the media
// (RTCDTMFSender, RFC 4733). "Receive calls": {"type": "register", "address"} on a socket kept open; an
// incoming call (a campaign's, a callback) rings here and is answered with the browser's answer.
// body[data-call] is idle | calling | in-call | ringing | ended (what the page shows, and what tests wait for).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const Phone = window.SwitchboardPhone;
  let call = null; // {ws, line, contactId, caller}
  let iceServers = [];
  let registration = null; // {ws, address, incoming}

  function setCall(state, text) {
    document.body.dataset.call = state;
    if (text) $("state").textContent = text;
    const active = state === "calling" || state === "in-call";
    $("call").disabled = active || state === "ringing";
    $("hangup").disabled = !active;
  }

  function statusLine(text) {
    const li = document.createElement("li");
    li.textContent = text;
    $("status-lines").appendChild(li);
  }

  function showAudioButton() {
    $("enable-audio").hidden = !Phone.audioBlocked();
  }

  function lineState(state) {
    if (state === "connected") statusLine("Audio connected.");
    if (state === "failed") end("The audio connection failed.");
  }

  function end(text) {
    if (!call) return;
    const finished = call;
    call = null;
    if (finished.line) finished.line.close();
    if (finished.ws !== (registration && registration.ws)) finished.ws.close();
    setCall("ended", text || "Call ended.");
    $("dialed").textContent = "";
  }

  // ----------------------------------------------------------------------------------------------- frames ----

  async function onFrame(ws, frame) {
    if (frame.type === "hello") {
      iceServers = frame.ice_servers || [];
      if (call && call.ws === ws && !call.line) await dial(call);
    } else if (frame.type === "answer" && call && call.ws === ws) {
      call.contactId = frame.contact_id || call.contactId;
      $("call-form").dataset.contact = call.contactId || "";
      await call.line.accept(frame.sdp);
      setCall("in-call", "In call.");
    } else if (frame.type === "status") {
      statusLine(frame.text);
    } else if (frame.type === "incoming") {
      registration.incoming = frame;
      $("incoming-from").textContent = frame.from || "us";
      $("incoming").hidden = false;
      setCall("ringing", "Incoming call…");
      Phone.ring(true);
    } else if (frame.type === "incoming-cancelled") {
      if (registration && registration.incoming && registration.incoming.call_id === frame.call_id) {
        registration.incoming = null;
        stopRinging();
        setCall("idle", "Missed call.");
      }
    } else if (frame.type === "ended") {
      end("Call ended" + (frame.reason ? " (" + frame.reason + ")." : "."));
    } else if (frame.type === "registered") {
      $("register-state").textContent = "Calls to " + frame.address + " ring here.";
    } else if (frame.type === "error") {
      statusLine("Error: " + frame.reason);
      if (call && call.ws === ws && !call.contactId) end("The call could not be made.");
    }
  }

  function open(onClose) {
    const ws = new WebSocket(Phone.wsUrl("/webrtc/ws/caller"));
    ws.onmessage = (message) => onFrame(ws, JSON.parse(message.data)).catch((error) => statusLine(String(error)));
    ws.onclose = () => onClose(ws);
    return ws;
  }

  // ------------------------------------------------------------------------------------------ outgoing ----

  // The socket first: its hello brings the ICE servers the peer connection needs.
  $("call-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (call) return;
    $("status-lines").replaceChildren();
    setCall("calling", "Calling…");
    const caller = new FormData(event.target).get("caller").trim();
    const ws = open((closed) => { if (call && call.ws === closed) end("Call ended."); });
    call = { ws, line: null, contactId: null, caller };
  });

  async function dial(current) {
    try {
      current.line = new Phone.Line(await Phone.microphone(), iceServers, lineState);
    } catch (error) {
      call = null;
      current.ws.close();
      return setCall("idle", "No microphone: " + error.message);
    }
    const frame = { type: "call", sdp: await current.line.offer() };
    if (current.caller) frame.caller = current.caller;
    current.ws.send(JSON.stringify(frame));
  }

  $("hangup").addEventListener("click", () => {
    if (!call) return;
    if (call.ws.readyState === WebSocket.OPEN) call.ws.send(JSON.stringify({ type: "hangup" }));
    end("You hung up.");
  });

  function press(digit) {
    if (!call || !call.line || !call.line.dtmf(digit)) return;
    $("dialed").textContent += digit;
    const button = document.querySelector(`#keypad [data-digit="${CSS.escape(digit)}"]`);
    if (button) {
      button.classList.add("pressed");
      setTimeout(() => button.classList.remove("pressed"), 150);
    }
  }

  $("keypad").addEventListener("click", (event) => {
    const digit = event.target.dataset && event.target.dataset.digit;
    if (digit) press(digit);
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.closest && event.target.closest("input, textarea")) return;
    if (/^[0-9*#]$/.test(event.key)) press(event.key);
  });

  $("enable-audio").addEventListener("click", async () => {
    await Phone.resumeAudio();
    showAudioButton();
  });
  setInterval(showAudioButton, 1000);

  // ------------------------------------------------------------------------------------------ incoming ----

  function stopRinging() {
    Phone.ring(false);
    $("incoming").hidden = true;
  }

  $("register-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const address = new FormData(event.target).get("address").trim();
    if (registration) registration.ws.close();
    const ws = open((closed) => {
      if (registration && registration.ws === closed) {
        registration = null;
        $("register-state").textContent = "Not receiving calls (the connection closed).";
        if (call && call.ws === closed) end("Call ended.");
      }
    });
    registration = { ws, address, incoming: null };
    ws.onopen = () => ws.send(JSON.stringify({ type: "register", address }));
  });

  $("answer-incoming").addEventListener("click", async () => {
    const offer = registration && registration.incoming;
    if (!offer) return;
    stopRinging();
    setCall("calling", "Answering…");
    try {
      const line = new Phone.Line(await Phone.microphone(), iceServers, lineState);
      call = { ws: registration.ws, line, contactId: offer.contact_id || offer.call_id };
      const sdp = await line.answer(offer.sdp);
      registration.ws.send(JSON.stringify({ type: "answer-call", call_id: offer.call_id, sdp }));
      setCall("in-call", "In call.");
    } catch (error) {
      setCall("idle", "Could not answer: " + error.message);
    }
    registration.incoming = null;
  });

  $("decline-incoming").addEventListener("click", () => {
    const offer = registration && registration.incoming;
    if (!offer) return;
    stopRinging();
    registration.ws.send(JSON.stringify({ type: "decline-call", call_id: offer.call_id }));
    registration.incoming = null;
    setCall("idle", "Call declined.");
  });
})();
