// The kiosk page in a real browser: Debian's Chromium, headless, its microphone fed from a
// WAV file of the project's own voice. Holds a whole conversation with a running
// `xiaoan serve`, then audits the page with axe-core and saves screenshots.
//
// Run by tests/e2e/browser.rs, which starts the server and renders the WAV. By hand:
//   KIOSK_URL=http://127.0.0.1:8750/kiosk/ KIOSK_TOKEN=... KIOSK_TERMINAL=gs-1 \
//   KIOSK_WAV=/tmp/kiosk.wav node tests/browser/kiosk.test.mjs
//
// Environment:
//   KIOSK_URL       the page (required)
//   KIOSK_TOKEN     the terminal's device token (required)
//   KIOSK_TERMINAL  the terminal's id (default gs-1)
//   KIOSK_WAV       what the fake microphone says: a question, a long silence, "I want a
//                   certificate", silence (required)
//   KIOSK_SHOTS     folder for the screenshots (default: none taken)
//   CHROMIUM        the browser (default /usr/bin/chromium)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const env = (k, d) => process.env[k] || d;
const URL_ = env("KIOSK_URL");
const TOKEN = env("KIOSK_TOKEN");
const TERMINAL = env("KIOSK_TERMINAL", "gs-1");
const WAV = env("KIOSK_WAV");
const SHOTS = env("KIOSK_SHOTS", "");
const CHROMIUM = env("CHROMIUM", "/usr/bin/chromium");
// the server recognises speech on a shared 2-core machine: generous waits
const LONG = 120_000;
const SHORT = 30_000;

// The certificate declaration's answers after the spoken start (agent/forms/certificate-issuance.toml):
// the name typed, the ID and the phone on the keypad, the rest typed.
const NAME = "我叫陈大文";
const ID = "510107199201017898";
const PHONE = "13612345678";
const TYPED = { certificate_type: "居住证明", purpose: "小朋友读书用", address: "7号楼101室" };

if (!URL_ || !TOKEN || !WAV) {
  console.error("kiosk test: KIOSK_URL, KIOSK_TOKEN and KIOSK_WAV are required");
  process.exit(2);
}

let failures = 0;
let passes = 0;
function check(ok, what, detail = "") {
  if (ok) {
    passes += 1;
    console.log(`ok   ${what}`);
  } else {
    failures += 1;
    console.log(`FAIL ${what}${detail ? `: ${detail}` : ""}`);
  }
  return ok;
}

// ---------------------------------------------------------------- the resampler alone
// The capture worklet run outside the browser with the two globals it uses: a tone below
// 8 kHz keeps its level, one above is filtered out, and 1 s in gives 16,000 samples out.
function runWorklet(rate, freq, seconds) {
  const out = [];
  let Processor = null;
  const scope = {
    sampleRate: rate,
    AudioWorkletProcessor: class {
      constructor() {
        this.port = { postMessage: (b) => out.push(...new Int16Array(b)) };
      }
    },
    registerProcessor: (_, c) => {
      Processor = c;
    },
  };
  const src = fs.readFileSync(new URL("../../server/kiosk/capture-worklet.js", import.meta.url), "utf8");
  new Function("sampleRate", "AudioWorkletProcessor", "registerProcessor", src)(scope.sampleRate, scope.AudioWorkletProcessor, scope.registerProcessor);
  const p = new Processor();
  const blocks = Math.round((rate * seconds) / 128);
  for (let b = 0; b < blocks; b++) {
    const x = new Float32Array(128);
    for (let i = 0; i < 128; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * freq * (b * 128 + i)) / rate);
    p.process([[x]]);
  }
  const tail = out.slice(1600); // past the filter's start
  const rms = Math.sqrt(tail.reduce((a, v) => a + v * v, 0) / tail.length) / 32767;
  return { n: out.length, rms, expected: (blocks * 128 * 16000) / rate };
}
for (const rate of [48000, 44100]) {
  const low = runWorklet(rate, 1000, 2);
  const high = runWorklet(rate, 12000, 2);
  check(Math.abs(low.rms - 0.5 / Math.SQRT2) < 0.01, `capture at ${rate} Hz: a 1 kHz tone keeps its level at 16 kHz`, low.rms.toFixed(4));
  check(high.rms < 0.005, `capture at ${rate} Hz: a 12 kHz tone is filtered out before 16 kHz`, high.rms.toFixed(5));
  check(Math.abs(low.n - low.expected) <= 640 + 64, `capture at ${rate} Hz: 16,000 samples a second`, `${low.n} for ${low.expected}`);
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "xiaoan-kiosk-chromium-"));
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  userDataDir: profile,
  // the system browser: no sandbox as root in a container; nothing reaches out to the network
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${WAV}%noloop`,
    "--lang=zh-CN",
  ],
  defaultViewport: { width: 1280, height: 800, deviceScaleFactor: 1 },
});

const page = await browser.newPage();
const consoleErrors = [];
page.on("console", (m) => {
  if (m.type() === "error") consoleErrors.push(m.text());
});
page.on("pageerror", (e) => consoleErrors.push(String(e)));
page.on("response", (r) => {
  if (r.status() >= 400) consoleErrors.push(`${r.status()} ${r.url()}`);
});

const stats = () => page.evaluate(() => JSON.parse(JSON.stringify(window.xiaoanKiosk.stats)));
const captions = () =>
  page.$$eval("#captions li", (lis) => lis.map((li) => ({ who: li.className, text: li.querySelector(".text").textContent })));
const lastXiaoan = async () => {
  const c = await captions();
  const x = c.filter((l) => l.who === "xiaoan");
  return x.length ? x[x.length - 1].text : "";
};
const visible = (sel) => page.$eval(sel, (el) => !el.hidden && el.getClientRects().length > 0).catch(() => false);
const text = (sel) => page.$eval(sel, (el) => el.textContent.trim());

async function waitFor(what, fn, timeout = SHORT) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// A new 小安 turn after the caption count `n`; resolves with its text once its last
// sentence has come (the server says `listening` after it).
async function nextReply(n, what, timeout = SHORT) {
  const settled = async () => {
    const c = await captions();
    const s = await stats();
    return c.length > n && c[c.length - 1].who === "xiaoan" && s.lastReply && s.lastReply.last && c.length;
  };
  // a reply may come as more than one turn (an answer, then the next question): wait
  // until its last sentence has come and nothing new follows for a moment
  for (;;) {
    const count = await waitFor(what, settled, timeout);
    await new Promise((r) => setTimeout(r, 1000));
    if ((await settled()) === count) return lastXiaoan();
  }
}

async function typeTurn(t) {
  const n = (await captions()).length;
  await page.focus("#type-text");
  await page.keyboard.type(t);
  await page.keyboard.press("Enter");
  return nextReply(n + 1, `a reply to the typed "${t}"`);
}

async function shot(name, fullPage = false) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, name);
  await page.screenshot({ path: file, fullPage });
  console.log(`screenshot ${file}`);
}

async function audit(label) {
  const axe = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  // evaluated through the debugging protocol: the page's CSP stays on
  await page.evaluate(axe);
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ["violations"] });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
  console.log(`axe (${label}): ${r.length} violation(s)`);
  for (const v of r) console.log(`  axe ${v.impact} ${v.id}: ${v.help} — ${v.nodes.join(", ")}`);
  const bad = r.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `axe (${label}): no serious or critical violations`, bad.map((v) => v.id).join(", "));
}

let done = false;
try {
  // ---------------------------------------------------------------- the page opens
  await page.goto(`${URL_}#token=${encodeURIComponent(TOKEN)}&terminal=${encodeURIComponent(TERMINAL)}`, { waitUntil: "load" });
  check(!(await page.evaluate(() => location.hash)), "the token is wiped from the address bar");
  check(
    (await page.evaluate(() => localStorage.getItem("xiaoan.kiosk") || "")).includes(TOKEN),
    "the token is kept in localStorage",
  );
  const csp = await page.evaluate(async () => (await fetch(location.href)).headers.get("content-security-policy"));
  check(csp && csp.includes("default-src 'none'"), "the page is served with a Content-Security-Policy", csp);

  await waitFor("the session to open (ready)", async () => (await stats()).sessions >= 1);
  const greeting = await nextReply(0, "the greeting", SHORT);
  check(greeting.length > 0, "小安 greets the resident in a caption", greeting);
  // the first touch lets the page play sound; the greeting then plays and `played` is sent
  await page.mouse.click(20, 780);
  await waitFor("the greeting's audio to play", async () => (await stats()).played.length >= 1, SHORT);
  check(true, "the greeting's audio played and the page said so (played)");

  // ---------------------------------------------------------------- keyboard only from here
  // Tab from the start of the page reaches every control; each shows a focus ring
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  const order = [];
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    order.push(
      await page.evaluate(() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        return { id: el.id || el.dataset.key || el.tagName, ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 };
      }),
    );
  }
  const ids = order.map((o) => o.id).filter((id) => id !== "BODY");
  check(
    ["talk", "handsfree", "stop", "keypad-toggle", "type-text"].every((id) => ids.includes(id)),
    "Tab reaches the talk, hands-free, stop, keypad and typing controls in order",
    ids.join(" → "),
  );
  check(ids.indexOf("talk") < ids.indexOf("handsfree") && ids.indexOf("handsfree") < ids.indexOf("type-text"), "the tab order follows the screen", ids.join(" → "));
  check(order.every((o) => o.ring || o.id === "BODY"), "every focused control shows a visible focus ring", JSON.stringify(order.filter((o) => !o.ring && o.id !== "BODY")));

  // ---------------------------------------------------------------- (a) a spoken question
  // hands-free on by keyboard: the microphone opens and the fake capture starts its file
  await page.focus("#handsfree");
  let n = (await captions()).length;
  await page.keyboard.press("Enter");
  await waitFor("hands-free to switch on", async () => (await page.$eval("#handsfree", (b) => b.getAttribute("aria-pressed"))) === "true");
  check(true, "hands-free switches on from the keyboard");
  await waitFor("the resident's question as a caption", async () => (await captions()).slice(n).some((l) => l.who === "you"), LONG);
  const heard = (await captions()).slice(n).find((l) => l.who === "you").text;
  console.log(`heard: ${heard}`);
  check((await stats()).sentBytes > 16000 * 2, "the microphone's audio went to the server as 16 kHz PCM16 frames");
  const answer = await nextReply(n + 1, "the answer to the spoken question", LONG);
  console.log(`answer: ${answer}`);
  // Whisper base may write 积分 as its homophone 几分; the words after it must be there
  check(/超市/.test(heard) && /开门/.test(heard), "the spoken question is recognised (积分超市什么时候开门)", heard);
  check(/积分超市/.test(answer) && /开门|周二|周五/.test(answer), "the spoken question is answered in a caption", answer);
  let s = await stats();
  const answerTurn = Math.max(...Object.keys(s.turnAudio).map(Number));
  check(s.turnAudio[answerTurn] > 24000, `the answer's audio arrived (${s.audioFrames} frames, ${s.audioBytes} bytes in all; turn ${answerTurn}: ${s.turnAudio[answerTurn]} bytes)`);
  const announced = await page.$eval("#announce", (el) => el.textContent);
  check(announced.includes(answer.slice(0, 6)), "the answer is announced through the live region", announced);

  // ---------------------------------------------------------------- (b) a declaration started by voice
  n = (await captions()).length;
  await waitFor("the second spoken turn", async () => (await captions()).slice(n).some((l) => l.who === "you"), LONG);
  const asked = (await captions()).slice(n).find((l) => l.who === "you").text;
  console.log(`heard: ${asked}`);
  await nextReply(n + 1, "the declaration's first question", LONG);
  const intro = (await captions()).slice(n).filter((l) => l.who === "xiaoan").map((l) => l.text).join("");
  console.log(`reply: ${intro}`);
  check(/证明/.test(intro), "the spoken request starts the certificate declaration", intro);
  check(/第1项，共\d+项/.test(await text("#progress")), "the form's progress is shown", await text("#progress"));
  // the rest of the file is silence: switch hands-free off, answer by keys and typing
  await page.focus("#handsfree");
  await page.keyboard.press("Enter");

  let reply = await typeTurn(NAME);
  check(/身份证/.test(reply), "the name is taken and the ID number is asked", reply);
  await waitFor("the keypad to open for the ID number", () => visible("#keypad"));
  check(/第2项/.test(await text("#progress")), "progress moves to the second item", await text("#progress"));
  check(/身份证/.test(await text("#keypad-title")), "the keypad says it wants the ID number", await text("#keypad-title"));
  // the resident was typing, so the focus stayed in the text field; Tab leads to the keys
  await page.focus('#keypad [data-key="1"]');
  check(
    await page.$eval("#keypad", (el) => {
      const r = el.getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    }),
    "the whole keypad is in view when it opens",
  );
  await shot("kiosk-keypad.png");
  await audit("keypad open");

  // the first half typed on the keyboard, one wrong digit taken back, the rest clicked
  const audioBefore = (await stats()).audioFrames;
  for (const d of ID.slice(0, 9)) await page.keyboard.press(d);
  await page.keyboard.press("5");
  await page.keyboard.press("Backspace");
  for (const d of ID.slice(9)) await page.click(`#keypad [data-key="${d}"]`);
  await waitFor("the typed number on the display", async () => (await text("#keypad-display")).replace(/\s/g, "").endsWith(ID.slice(-4)));
  const display = (await text("#keypad-display")).replace(/\s/g, "");
  check(display.length === 18 && display.startsWith("*") && !display.includes(ID.slice(0, 6)), "the display shows the ID masked but for its last four", display);
  await waitFor("each key's spoken echo", async () => (await stats()).audioFrames - audioBefore >= ID.length, SHORT);
  check(true, "each key is spoken back (an audio frame per key)");
  n = (await captions()).length;
  await page.click('#keypad [data-key="enter"]');
  reply = await nextReply(n, "the reply to the ID number");
  check(/手机/.test(reply), "the ID is taken and the phone number is asked", reply);
  await waitFor("the keypad for the phone", async () => (await visible("#keypad")) && /手机/.test(await text("#keypad-title")));
  check(await page.$eval('#keypad [data-key="X"]', (b) => b.disabled), "X is not offered for a phone number");
  for (const d of PHONE) await page.keyboard.press(d);
  await waitFor("the phone on the display", async () => (await text("#keypad-display")).replace(/\s/g, "").endsWith(PHONE.slice(-4)));
  n = (await captions()).length;
  await page.keyboard.press("Enter");
  reply = await nextReply(n, "the reply to the phone number");
  check(/证明/.test(reply), "the phone is taken and the certificate type is asked", reply);
  check(!(await visible("#keypad")), "the keypad closes when the form moves on");

  reply = await typeTurn(TYPED.certificate_type);
  reply = await typeTurn(TYPED.purpose);
  reply = await typeTurn(TYPED.address);
  check(/我念一遍/.test(reply), "the form is read back", reply);
  // confirm each part of the read-back, then agree to the commitment
  for (let i = 0; i < 8 && !(await visible("#receipt")); i++) {
    reply = await typeTurn(/承诺/.test(reply) ? "同意" : "对的");
  }
  await waitFor("the receipt", () => visible("#receipt"));
  const number = await text("#receipt-number");
  console.log(`receipt: ${number} (${await text("#receipt-title")}); reply: ${reply}`);
  check(number.length >= 6, "the receipt number is shown large", number);
  s = await stats();
  const receiptTurn = Math.max(...Object.keys(s.turnAudio).map(Number));
  check(/回执号/.test(reply) && s.turnAudio[receiptTurn] > 24000, "the receipt is spoken (its reply came with audio)", reply);
  await shot("kiosk.png");
  await audit("receipt shown");

  // 200% zoom: half the CSS width at twice the pixel density, as a browser zoom gives
  await page.setViewport({ width: 640, height: 400, deviceScaleFactor: 2 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, "at 200% zoom nothing needs scrolling sideways", `${overflow}px too wide`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot("kiosk-zoom200.png", true);
  await audit("200% zoom");
  await page.setViewport({ width: 1280, height: 800, deviceScaleFactor: 1 });

  // ---------------------------------------------------------------- stopping a reply at once
  n = (await captions()).length;
  await page.focus("#type-text");
  await page.keyboard.type("敬老卡怎么办");
  await page.keyboard.press("Enter");
  await waitFor("the reply to start", async () => (await captions()).length > n + 1, SHORT);
  await waitFor("its audio", async () => {
    const st = await stats();
    return Object.keys(st.turnAudio).map(Number).some((t) => t > receiptTurn);
  });
  await page.keyboard.press("Escape");
  await waitFor("stop_audio from the server", async () => (await stats()).stopped.length > 0, SHORT);
  check(true, "Esc stops the reply (the server answers stop_audio)");

  // ---------------------------------------------------------------- the resident is done
  await page.click("#end");
  await waitFor("the session to end", async () => (await captions()).length === 0 && /再见/.test(await text("#status")));
  check(await page.$eval("#receipt", (el) => el.hidden), "办完了 ends the session and clears the screen for the next resident");
  await page.keyboard.press("Tab");
  await waitFor("a new session and its greeting", async () => (await stats()).sessions >= 2 && (await captions()).length > 0);
  check(true, "the next resident's first key opens a new session with a greeting");

  check(consoleErrors.length === 0, "no errors in the page's console", consoleErrors.join(" | "));

  // ---------------------------------------------------------------- a refused token
  const other = await browser.createBrowserContext();
  const p2 = await other.newPage();
  await p2.goto(`${URL_}#token=not-a-real-token&terminal=${encodeURIComponent(TERMINAL)}`, { waitUntil: "load" });
  await p2.waitForFunction(() => !document.getElementById("notice").hidden, { timeout: SHORT });
  const refused = await p2.$eval("#notice", (el) => el.textContent);
  check(/通行码|工作人员/.test(refused), "a refused token is explained in Chinese", refused);
  await other.close();
  done = true;
} catch (e) {
  failures += 1;
  console.log(`FAIL ${e.message}`);
}

if (!done || failures) {
  try {
    console.log("captions:", JSON.stringify(await captions()));
    const st = await stats();
    console.log("events:", st.events.slice(-60).join(" "));
    console.log("console:", consoleErrors.join(" | "));
  } catch (_) {
    // the page is gone
  }
}
await browser.close();
fs.rmSync(profile, { recursive: true, force: true });
console.log(`kiosk browser test: ${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
