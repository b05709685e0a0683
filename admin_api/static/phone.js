// The browser side of a Switchboard phone line (docs/gateway.md), shared by the agent desktop and the web caller.
//
// - microphone(): the microphone; with ?testTone=HZ in the page's address, a sine of HZ made with WebAudio is
//   sent instead (the end-to-end tests tell the two sides apart by frequency). The microphone is still asked
//   for: the permission is what lets the browser offer its real loopback address instead of an mDNS name.
// - Line: one RTCPeerConnection to the gateway (DTLS-SRTP; ICE servers as the gateway says). Offers and answers
//   are sent whole, once ICE gathering is done (no trickle: at most GATHER_MS). DTMF goes in the media with
//   RTCDTMFSender (RFC 4733), never over the socket.
// - The remote audio plays through an <audio> element and is measured (AnalyserNode):
//   window.switchboardAudio.peak() is the loudest frequency, .hears(hz) says a tone of hz is what is heard,
//   .level(hz) is how loud the sound near hz is (a mix of tones shows each).
// - A ring tone (WebAudio: 440 + 480 Hz, two seconds on, four off) and audioBlocked() / resumeAudio() for a page
//   reloaded without a click (browsers keep its audio suspended until one).
"use strict";
window.SwitchboardPhone = (function () {
  const GATHER_MS = 3000;
  const params = new URLSearchParams(location.search);
  const TEST_TONE_HZ = Number(params.get("testTone")) || 0;
  let context = null;
  let remote = null; // {element, analyser, bins}
  let ringing = null;

  function audio() {
    if (!context) context = new AudioContext();
    return context;
  }

  const wsUrl = (path) => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;

  // Whether the browser keeps this page silent until a click (a page reloaded without one).
  function audioBlocked() {
    return (!!context && context.state !== "running") || (!!remote && remote.element.paused);
  }

  async function resumeAudio() {
    if (context && context.state !== "running") await context.resume();
    if (remote && remote.element.paused) {
      try { await remote.element.play(); } catch (error) { /* still blocked: the next click */ }
    }
  }

  async function microphone() {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    if (!TEST_TONE_HZ) return stream;
    for (const track of stream.getTracks()) track.stop();
    const ctx = audio();
    const oscillator = ctx.createOscillator();
    oscillator.frequency.value = TEST_TONE_HZ;
    const gain = ctx.createGain();
    gain.gain.value = 0.25;
    const destination = ctx.createMediaStreamDestination();
    oscillator.connect(gain).connect(destination);
    oscillator.start();
    return destination.stream;
  }

  function playRemote(stream) {
    let element = document.getElementById("remote-audio");
    if (!element) {
      element = document.createElement("audio");
      element.id = "remote-audio";
      element.autoplay = true;
      document.body.appendChild(element);
    }
    element.srcObject = stream;
    element.play().catch(() => { /* autoplay blocked until a click: audioBlocked() says so */ });
    const ctx = audio();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0.5;
    ctx.createMediaStreamSource(stream).connect(analyser); // measured only: the element plays it
    remote = { element, analyser, bins: new Float32Array(analyser.frequencyBinCount) };
  }

  // The loudest frequency between 100 Hz and 4 kHz of what is heard, and its level in dB (null: nothing yet).
  function peak() {
    if (!remote) return null;
    const { analyser, bins } = remote;
    analyser.getFloatFrequencyData(bins);
    const hzPerBin = audio().sampleRate / analyser.fftSize;
    let best = -1;
    for (let i = Math.ceil(100 / hzPerBin); i < Math.min(bins.length, 4000 / hzPerBin); i++) {
      if (best < 0 || bins[i] > bins[best]) best = i;
    }
    return best < 0 ? null : { hz: best * hzPerBin, db: bins[best] };
  }

  function hears(hz, toleranceHz = 25, minDb = -75) {
    const p = peak();
    return !!p && p.db > minDb && Math.abs(p.hz - hz) <= toleranceHz;
  }

  // The loudest level (dB) heard within toleranceHz of hz: several tones at once (a supervisor's mix) each show.
  function level(hz, toleranceHz = 25) {
    if (!remote) return -Infinity;
    const { analyser, bins } = remote;
    analyser.getFloatFrequencyData(bins);
    const hzPerBin = audio().sampleRate / analyser.fftSize;
    let best = -Infinity;
    for (let i = Math.max(0, Math.floor((hz - toleranceHz) / hzPerBin)); i <= Math.ceil((hz + toleranceHz) / hzPerBin)
      && i < bins.length; i++) {
      best = Math.max(best, bins[i]);
    }
    return best;
  }

  function gathered(pc) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      const timer = setTimeout(done, GATHER_MS);
      function check() { if (pc.iceGatheringState === "complete") done(); }
      function done() {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  class Line {
    // onState(state): the peer connection's state (new, connecting, connected, disconnected, failed, closed).
    constructor(stream, iceServers, onState) {
      this.stream = stream;
      this.pc = new RTCPeerConnection({ iceServers: iceServers || [] });
      for (const track of stream.getAudioTracks()) this.pc.addTrack(track, stream);
      this.pc.ontrack = (event) => playRemote(event.streams[0] || new MediaStream([event.track]));
      this.pc.onconnectionstatechange = () => onState && onState(this.pc.connectionState);
    }

    get state() { return this.pc.connectionState; }

    async offer() {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      await gathered(this.pc);
      return this.pc.localDescription.sdp;
    }

    async accept(sdp) {
      await this.pc.setRemoteDescription({ type: "answer", sdp });
    }

    async answer(sdp) {
      await this.pc.setRemoteDescription({ type: "offer", sdp });
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      await gathered(this.pc);
      return this.pc.localDescription.sdp;
    }

    dtmf(digits) {
      const sender = this.pc.getSenders().find((s) => s.track && s.track.kind === "audio");
      if (!sender || !sender.dtmf || !sender.dtmf.canInsertDTMF) return false;
      sender.dtmf.insertDTMF(digits, 120, 80);
      return true;
    }

    mute(muted) {
      for (const track of this.stream.getAudioTracks()) track.enabled = !muted;
    }

    close() {
      this.pc.close();
    }
  }

  function ring(on) {
    if (!on) {
      if (ringing) { clearInterval(ringing.timer); ringing.gain.disconnect(); ringing = null; }
      return;
    }
    if (ringing) return;
    const ctx = audio();
    const gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    for (const hz of [440, 480]) {
      const oscillator = ctx.createOscillator();
      oscillator.frequency.value = hz;
      oscillator.connect(gain);
      oscillator.start();
    }
    const burst = () => {
      const t = ctx.currentTime;
      gain.gain.setValueAtTime(0.08, t);
      gain.gain.setValueAtTime(0, t + 2);
    };
    burst();
    ringing = { gain, timer: setInterval(burst, 6000) };
  }

  window.switchboardAudio = { peak, hears, level, blocked: audioBlocked, testTone: TEST_TONE_HZ };
  return { wsUrl, microphone, Line, ring, audioBlocked, resumeAudio, peak, hears, testTone: TEST_TONE_HZ };
})();
