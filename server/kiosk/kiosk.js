// The kiosk page of Xiao'an: one resident session over the terminal WebSocket
// (docs/terminal-protocol.md). Microphone in through an AudioWorklet (16 kHz PCM16),
// reply audio out through Web Audio, the conversation as captions, a keypad for numbers.
// No timers end anything here: only the server decides a session is over, after offering
// more time aloud.
"use strict";

(() => {
  const STORE_KEY = "xiaoan.kiosk";
  const PROTOCOL = 1;
  const MAX_CAPTIONS = 40;
  const MAX_RECONNECT_S = 15;

  const MSG = {
    connecting: "正在连接……",
    ready: "请按“说话”，或者打开“免按键”直接说。",
    listening: "小安在听，请说。",
    hearing: "听到了，请接着说。",
    thinking: "小安在想……",
    lost: "连接断了，正在重新连接……",
    noToken: "这台机器还没有设置好，请找工作人员。",
    refused: "这台机器的通行码不对，或者已经停用了。请找工作人员。",
    noMic: "没有找到话筒。您可以用数字键盘，或者打字。",
    micDenied: "话筒用不了，没有得到允许。请找工作人员。您也可以打字。",
    insecure: "这个页面不是安全连接，浏览器不让用话筒。请找工作人员。",
    micFailed: "话筒打不开。您可以用数字键盘，或者打字。",
    handover: "已经请工作人员过来，请稍等。",
    emergency: "已经通知工作人员，马上有人来帮您。",
    bye: "再见！下一位请按“说话”。",
    handsfreeOn: "免按键已打开，直接说就行。",
    keypadEmpty: "还没有输入",
    keypadTitle: { id_number: "输入身份证号（18位）", phone: "输入手机号（11位）", digits: "输入数字" },
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"),
    progress: $("progress"),
    notice: $("notice"),
    captions: $("captions"),
    conversation: $("conversation"),
    partial: $("partial"),
    receipt: $("receipt"),
    receiptTitle: $("receipt-title"),
    receiptNumber: $("receipt-number"),
    idle: $("idle"),
    moreTime: $("more-time"),
    talk: $("talk"),
    handsfree: $("handsfree"),
    stop: $("stop"),
    end: $("end"),
    keypadToggle: $("keypad-toggle"),
    keypad: $("keypad"),
    keypadTitle: $("keypad-title"),
    keypadDisplay: $("keypad-display"),
    typeForm: $("type-form"),
    typeText: $("type-text"),
    announce: $("announce"),
  };

  // What a test (or a curious engineer with devtools) can read: counts, no content.
  const stats = { audioFrames: 0, audioBytes: 0, turnAudio: {}, sentFrames: 0, sentBytes: 0, played: [], stopped: [], lastReply: null, sessions: 0, events: [] };
  window.xiaoanKiosk = { stats };

  // ------------------------------------------------------------ settings
  // The token comes once in the fragment (#token=...&terminal=gs-3&dialect=auto), which is
  // never sent to the server in a URL; it is kept in localStorage and wiped from the bar.
  function loadSettings() {
    let saved = {};
    try {
      saved = JSON.parse(localStorage.getItem(STORE_KEY) || "{}") || {};
    } catch (_) {
      saved = {};
    }
    const hash = location.hash.replace(/^#/, "");
    if (hash) {
      const p = new URLSearchParams(hash);
      if (p.get("token")) {
        saved = {
          token: p.get("token"),
          terminal: p.get("terminal") || "",
          dialect: p.get("dialect") || "auto",
        };
        try {
          localStorage.setItem(STORE_KEY, JSON.stringify(saved));
        } catch (_) {
          // private mode: the token lives as long as the page
        }
      }
      history.replaceState(null, "", location.pathname + location.search);
    }
    return saved;
  }
  const settings = loadSettings();

  // ------------------------------------------------------------ screen
  function setStatus(text) {
    if (ui.status.textContent !== text) ui.status.textContent = text;
  }

  function showNotice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = !text;
  }

  function announce(text) {
    const p = document.createElement("p");
    p.textContent = text;
    ui.announce.appendChild(p);
    while (ui.announce.childElementCount > 4) ui.announce.firstElementChild.remove();
  }

  function addCaption(who, text) {
    const li = document.createElement("li");
    li.className = who === "you" ? "you" : "xiaoan";
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = who === "you" ? "您说：" : "小安：";
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    li.append(name, body);
    ui.captions.appendChild(li);
    while (ui.captions.childElementCount > MAX_CAPTIONS) ui.captions.firstElementChild.remove();
    scrollDown();
    return body;
  }

  // the newest caption in view, without moving the page itself
  function scrollDown() {
    ui.conversation.scrollTop = ui.conversation.scrollHeight;
  }

  const replyCaptions = new Map(); // turn -> caption text element
  function replySentence(turn, text) {
    let body = replyCaptions.get(turn);
    if (!body) {
      body = addCaption("xiaoan", text);
      replyCaptions.set(turn, body);
    } else {
      body.textContent += text;
      scrollDown();
    }
    announce(text);
  }

  function clearScreen() {
    ui.captions.textContent = "";
    ui.announce.textContent = "";
    replyCaptions.clear();
    ui.partial.hidden = true;
    ui.progress.hidden = true;
    ui.receipt.hidden = true;
    ui.idle.hidden = true;
    showNotice("");
    setKeypadText("");
    showKeypad(false);
  }

  // ------------------------------------------------------------ keypad
  let keypadBy = null; // "server" | "resident" | null

  function showKeypad(open, expect) {
    const wasInside = ui.keypad.contains(document.activeElement);
    ui.keypad.hidden = !open;
    ui.keypadToggle.setAttribute("aria-expanded", String(open));
    if (open) {
      ui.keypadTitle.textContent = MSG.keypadTitle[expect] || MSG.keypadTitle.digits;
      ui.keypad.querySelector('[data-key="X"]').disabled = expect === "phone";
    } else {
      keypadBy = null;
      if (wasInside) ui.talk.focus();
    }
  }

  function setKeypadText(masked) {
    ui.keypadDisplay.textContent = masked ? spaced(masked) : MSG.keypadEmpty;
  }

  // 110101199003071234 -> "110101 19900307 1234" style groups for the eye
  function spaced(s) {
    return s.length > 11 ? `${s.slice(0, 6)} ${s.slice(6, 14)} ${s.slice(14)}` : s.length === 11 ? `${s.slice(0, 3)} ${s.slice(3, 7)} ${s.slice(7)}` : s;
  }

  function pressKey(key) {
    wakeAudio();
    if (key === "enter" && ui.keypadDisplay.textContent !== MSG.keypadEmpty) {
      addCaption("you", `（按键）${ui.keypadDisplay.textContent}`);
    }
    send({ type: "key", key });
    hideIdle();
  }

  // ------------------------------------------------------------ audio out
  let ctx = null;
  let playHead = 0;
  const sources = new Map(); // turn -> Set of playing/queued AudioBufferSourceNodes
  const turns = new Map(); // turn -> { lastSentence, done, played, stopped, key }

  function audioContext() {
    if (!ctx) {
      const C = window.AudioContext || window.webkitAudioContext;
      ctx = new C({ latencyHint: "interactive" });
    }
    return ctx;
  }

  function wakeAudio() {
    const c = audioContext();
    if (c.state === "suspended") c.resume().catch(() => {});
  }

  function turnState(turn) {
    let t = turns.get(turn);
    if (!t) {
      t = { lastSentence: null, done: false, played: false, stopped: false, key: false, gotLast: false };
      turns.set(turn, t);
      if (turns.size > 64) turns.delete(turns.keys().next().value);
    }
    return t;
  }

  function play(meta, bytes) {
    const t = turnState(meta.turn);
    if (t.stopped) return;
    const n = Math.floor(bytes.byteLength / 2);
    if (n === 0) return;
    const c = audioContext();
    const pcm = new Int16Array(bytes, 0, n);
    const buffer = c.createBuffer(1, n, meta.sample_rate || 24000);
    const ch = buffer.getChannelData(0);
    for (let i = 0; i < n; i++) ch[i] = pcm[i] / 32768;
    const src = c.createBufferSource();
    src.buffer = buffer;
    src.connect(c.destination);
    playHead = Math.max(playHead, c.currentTime + 0.03);
    src.start(playHead);
    playHead += buffer.duration;
    let set = sources.get(meta.turn);
    if (!set) sources.set(meta.turn, (set = new Set()));
    set.add(src);
    if (meta.sentence === t.lastSentence) t.gotLast = true;
    src.onended = () => {
      set.delete(src);
      maybePlayed(meta.turn);
    };
  }

  // `played` once a turn's audio is all sent and all heard
  function maybePlayed(turn) {
    const t = turnState(turn);
    const set = sources.get(turn);
    if (t.played || t.stopped || (set && set.size > 0)) return;
    if (!(t.key || t.gotLast || t.done)) return;
    t.played = true;
    sources.delete(turn);
    stats.played.push(turn);
    send({ type: "played", turn });
  }

  function stopPlayback(onlyTurn) {
    for (const [turn, set] of sources) {
      if (onlyTurn !== undefined && turn > onlyTurn) continue;
      const t = turnState(turn);
      if (t.key) continue;
      t.stopped = true;
      for (const src of set) {
        src.onended = null;
        try {
          src.stop();
        } catch (_) {
          // not started yet
        }
      }
      sources.delete(turn);
    }
    // what is still queued (key echoes) keeps its place; nothing new waits behind silence
    playHead = ctx ? ctx.currentTime : 0;
  }

  // ------------------------------------------------------------ audio in
  let mic = null; // { stream, node }
  let micStarting = null;
  let talking = false;
  let handsFree = false;

  async function startMic() {
    if (mic) return true;
    if (micStarting) return micStarting;
    micStarting = (async () => {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        showNotice(window.isSecureContext ? MSG.noMic : MSG.insecure);
        return false;
      }
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
          video: false,
        });
      } catch (e) {
        const name = e && e.name;
        showNotice(name === "NotAllowedError" || name === "SecurityError" ? MSG.micDenied : name === "NotFoundError" || name === "OverconstrainedError" ? MSG.noMic : MSG.micFailed);
        return false;
      }
      try {
        const c = audioContext();
        await c.audioWorklet.addModule("capture-worklet.js");
        const source = c.createMediaStreamSource(stream);
        const node = new AudioWorkletNode(c, "xiaoan-capture", { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1, channelCountMode: "explicit" });
        const mute = c.createGain();
        mute.gain.value = 0; // the node must be pulled by the graph; nothing is heard
        source.connect(node).connect(mute).connect(c.destination);
        node.port.onmessage = (e) => sendAudio(e.data);
        mic = { stream, node, source };
        for (const track of stream.getAudioTracks()) {
          track.onended = () => {
            mic = null;
            showNotice(MSG.micFailed);
          };
        }
        return true;
      } catch (_) {
        for (const track of stream.getTracks()) track.stop();
        showNotice(MSG.micFailed);
        return false;
      }
    })();
    const ok = await micStarting;
    micStarting = null;
    return ok;
  }

  function sendAudio(buffer) {
    if (!(handsFree || talking) || !isReady()) return;
    ws.send(buffer);
    stats.sentFrames += 1;
    stats.sentBytes += buffer.byteLength;
  }

  let talkWanted = false;
  async function setTalk(on) {
    talkWanted = on;
    if (on === talking) return;
    wakeAudio();
    if (on) {
      hideIdle();
      stopPlayback();
      if (!(await startMic()) || !talkWanted || talking) return;
      talking = true;
      send({ type: "talk", on: true });
      setStatus(MSG.listening);
    } else {
      talking = false;
      if (mic) mic.node.port.postMessage({ type: "flush" });
      send({ type: "talk", on: false });
    }
    ui.talk.setAttribute("aria-pressed", String(talking));
    ui.talk.textContent = talking ? "说完了" : "说话";
  }

  async function setHandsFree(on) {
    wakeAudio();
    if (on && !(await startMic())) return;
    if (talking) await setTalk(false);
    handsFree = on;
    ui.handsfree.setAttribute("aria-pressed", String(on));
    ui.talk.disabled = on;
    if (on) setStatus(MSG.handsfreeOn);
  }

  // ------------------------------------------------------------ connection
  let ws = null;
  let ready = false;
  let refused = false;
  let retryS = 1;
  let pendingAudio = null;
  let session = null;
  let lastReplyTurn = 0;

  function isReady() {
    return ws && ws.readyState === WebSocket.OPEN && ready;
  }

  function send(msg) {
    if (!isReady()) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  let waitingForResident = false;
  function residentArrives() {
    if (!waitingForResident) return;
    waitingForResident = false;
    connect();
  }

  function connect() {
    if (!settings.token) {
      setStatus(MSG.noToken);
      showNotice(MSG.noToken);
      return;
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${scheme}//${location.host}/ws/terminal`);
    ws.binaryType = "arraybuffer";
    ready = false;
    pendingAudio = null;
    setStatus(MSG.connecting);
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "hello", token: settings.token, terminal: settings.terminal || "", profile: "kiosk", dialect: settings.dialect || "auto", protocol: PROTOCOL }));
    };
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        let ev;
        try {
          ev = JSON.parse(e.data);
        } catch (_) {
          return;
        }
        onEvent(ev);
      } else if (pendingAudio) {
        stats.audioFrames += 1;
        stats.audioBytes += e.data.byteLength;
        stats.turnAudio[pendingAudio.turn] = (stats.turnAudio[pendingAudio.turn] || 0) + e.data.byteLength;
        play(pendingAudio, e.data);
        pendingAudio = null;
      }
    };
    ws.onclose = (e) => {
      const wasReady = ready;
      ready = false;
      ws = null;
      stopPlayback();
      if (talking) {
        talking = false;
        ui.talk.setAttribute("aria-pressed", "false");
        ui.talk.textContent = "说话";
      }
      if (refused || e.code === 4401) {
        refused = true;
        setStatus(MSG.refused);
        showNotice(MSG.refused);
        return;
      }
      if (e.code === 1000 || e.code === 4408 || e.code === 4410) {
        // the session ended (done, idle, too long): an empty screen, and a fresh session
        // when the next resident touches the screen or a key (not a greeting to an empty hall)
        retryS = 1;
        clearScreen();
        session = null;
        waitingForResident = true;
        setStatus(MSG.bye);
        return;
      }
      setStatus(MSG.lost);
      if (wasReady || !ui.notice.textContent) showNotice(MSG.lost);
      setTimeout(connect, retryS * 1000);
      retryS = Math.min(retryS * 2, MAX_RECONNECT_S);
    };
  }

  function log(ev) {
    stats.events.push(ev.type);
    if (stats.events.length > 500) stats.events.shift();
  }

  function onEvent(ev) {
    log(ev);
    switch (ev.type) {
      case "ready":
        ready = true;
        retryS = 1;
        stats.sessions += 1;
        if (ev.session !== session) clearScreen();
        session = ev.session;
        showNotice("");
        setStatus(MSG.ready);
        if (talking) send({ type: "talk", on: true });
        break;
      case "listening":
        if (lastReplyTurn) {
          const t = turnState(lastReplyTurn);
          t.done = true;
          maybePlayed(lastReplyTurn);
        }
        setStatus(handsFree ? MSG.handsfreeOn : MSG.listening);
        break;
      case "speech_start":
        hideIdle();
        setStatus(MSG.hearing);
        break;
      case "partial":
        ui.partial.textContent = `您说：${ev.text || ""}`;
        ui.partial.hidden = !ev.text;
        break;
      case "final":
        ui.partial.hidden = true;
        hideIdle();
        if (ev.text) addCaption("you", ev.text);
        setStatus(MSG.thinking);
        if (talking) setTalk(false);
        break;
      case "reply": {
        const t = turnState(ev.turn);
        if (ev.turn !== lastReplyTurn && lastReplyTurn) {
          turnState(lastReplyTurn).done = true;
          maybePlayed(lastReplyTurn);
        }
        lastReplyTurn = ev.turn;
        stats.lastReply = { turn: ev.turn, sentence: ev.sentence, last: !!ev.last };
        if (ev.last) t.lastSentence = ev.sentence;
        if (ev.text) replySentence(ev.turn, ev.text);
        break;
      }
      case "earcon":
        turnState(ev.turn);
        break;
      case "audio":
        pendingAudio = ev;
        break;
      case "stop_audio":
        stats.stopped.push(ev.turn);
        stopPlayback(ev.turn);
        break;
      case "progress":
        ui.receipt.hidden = true; // a new form: the last receipt was read out already
        ui.progress.textContent = ev.text || `第${ev.field}项，共${ev.of}项${ev.label ? `：${ev.label}` : ""}`;
        ui.progress.hidden = false;
        break;
      case "keypad":
        if (ev.open) {
          keypadBy = "server";
          setKeypadText("");
          showKeypad(true, ev.expect);
          const first = ui.keypad.querySelector('[data-key="1"]');
          if (first && document.activeElement !== ui.typeText) first.focus({ preventScroll: true });
          ui.keypad.scrollIntoView({ block: "nearest" });
        } else if (keypadBy === "server") {
          showKeypad(false);
        }
        break;
      case "key":
        turnState(ev.turn).key = true;
        setKeypadText(ev.entered_masked || "");
        hideIdle();
        break;
      case "receipt":
        ui.receiptTitle.textContent = ev.label || "回执号";
        ui.receiptNumber.textContent = ev.number || "";
        ui.receipt.hidden = !ev.number;
        ui.progress.hidden = true;
        break;
      case "handover":
        showNotice(MSG.handover);
        break;
      case "emergency":
        showNotice(MSG.emergency);
        break;
      case "idle_warning":
        ui.idle.hidden = false;
        ui.moreTime.focus();
        break;
      case "error":
        if (ev.code === "unauthorized") refused = true;
        if (ev.message) showNotice(ev.message);
        break;
      case "bye":
        setStatus(MSG.bye);
        break;
      default:
        break;
    }
  }

  function hideIdle() {
    if (ui.idle.hidden) return;
    const inside = ui.idle.contains(document.activeElement);
    ui.idle.hidden = true;
    if (inside) ui.talk.focus();
  }

  // ------------------------------------------------------------ controls
  ui.talk.addEventListener("click", () => setTalk(!talking));
  ui.handsfree.addEventListener("click", () => setHandsFree(!handsFree));
  ui.stop.addEventListener("click", () => {
    stopPlayback();
    send({ type: "stop" });
  });
  ui.end.addEventListener("click", () => {
    stopPlayback();
    if (handsFree) setHandsFree(false);
    send({ type: "end" });
  });
  ui.keypadToggle.addEventListener("click", () => {
    const open = ui.keypad.hidden;
    keypadBy = open ? "resident" : null;
    showKeypad(open, "digits");
    if (open) ui.keypad.querySelector('[data-key="1"]').focus();
  });
  ui.keypad.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-key]");
    if (b && !b.disabled) pressKey(b.dataset.key);
  });
  ui.moreTime.addEventListener("click", () => {
    send({ type: "more_time" });
    hideIdle();
  });
  ui.typeForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = ui.typeText.value.trim();
    if (!text) return;
    wakeAudio();
    if (send({ type: "text", text: text.slice(0, 500) })) {
      addCaption("you", text);
      ui.typeText.value = "";
      hideIdle();
    }
  });

  // Space held = push-to-talk (when no other control has the focus), Esc = stop,
  // digits/X/Backspace/Delete/Enter go to the open keypad.
  const KEYS = { Backspace: "back", Delete: "clear", x: "X", X: "X" };
  document.addEventListener("keydown", (e) => {
    wakeAudio();
    residentArrives();
    const el = document.activeElement;
    const inField = el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA");
    if (e.key === "Escape") {
      stopPlayback();
      send({ type: "stop" });
      return;
    }
    if (inField || e.altKey || e.ctrlKey || e.metaKey) return;
    const onOtherButton = el && el.tagName === "BUTTON" && el !== ui.talk;
    if (e.key === " " && !onOtherButton) {
      e.preventDefault();
      if (!e.repeat && !handsFree) {
        spaceHeld = true;
        setTalk(true);
      }
      return;
    }
    if (ui.keypad.hidden) return;
    let key = null;
    if (/^[0-9]$/.test(e.key)) key = e.key;
    else if (KEYS[e.key]) key = KEYS[e.key];
    else if (e.key === "Enter" && (!el || el.tagName !== "BUTTON" || ui.keypad.contains(el))) key = "enter";
    if (key === "X" && ui.keypad.querySelector('[data-key="X"]').disabled) return;
    if (key) {
      e.preventDefault();
      pressKey(key);
    }
  });
  let spaceHeld = false;
  document.addEventListener("keyup", (e) => {
    if (e.key === " " && spaceHeld) {
      spaceHeld = false;
      e.preventDefault();
      setTalk(false);
    }
  });
  // zoom, a turned screen, the keypad's column: the newest caption stays in view
  new ResizeObserver(scrollDown).observe(ui.conversation);
  document.addEventListener("pointerdown", () => {
    wakeAudio();
    residentArrives();
  });

  clearScreen();
  connect();
})();
