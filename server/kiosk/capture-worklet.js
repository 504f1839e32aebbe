// The kiosk's microphone path, on the audio thread: mix to mono, resample to 16 kHz with a
// windowed-sinc low-pass (so nothing above 8 kHz folds back into speech), and hand 40 ms
// chunks of 16-bit PCM to the page, which sends them to the server as binary frames.
"use strict";

const OUT_RATE = 16000;
// Samples per chunk posted to the page: 40 ms at 16 kHz.
const CHUNK = 640;
// Zero crossings of the sinc kept on each side of the centre (kernel length vs. sharpness).
const ZEROS = 8;
// Kernel table resolution: steps per input sample.
const STEPS = 256;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    const inRate = sampleRate; // the AudioContext's rate, a global of the worklet scope
    this.step = inRate / OUT_RATE;
    // pass-band edge: 90% of the lower Nyquist frequency
    const cutoff = 0.45 * Math.min(inRate, OUT_RATE);
    const spacing = inRate / (2 * cutoff); // input samples between sinc zeros
    this.half = Math.ceil(ZEROS * spacing);
    const n = this.half * STEPS;
    this.kernel = new Float32Array(n + 2);
    for (let i = 0; i <= n + 1; i++) {
      const u = i / STEPS;
      const x = u / spacing;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const w = u >= this.half ? 0 : 0.5 + 0.5 * Math.cos((Math.PI * u) / this.half); // Hann
      this.kernel[i] = (sinc * w) / spacing;
    }
    this.buf = new Float32Array(8192);
    this.len = 0; // samples held in buf
    this.start = 0; // absolute index of buf[0]
    this.t = 0; // absolute input position of the next output sample
    this.out = new Int16Array(CHUNK);
    this.fill = 0;
    this.port.onmessage = (e) => {
      if (e.data && e.data.type === "flush") this.flush();
    };
  }

  tap(u) {
    const a = Math.abs(u) * STEPS;
    const i = Math.floor(a);
    if (i >= this.kernel.length - 1) return 0;
    const f = a - i;
    return this.kernel[i] * (1 - f) + this.kernel[i + 1] * f;
  }

  append(samples) {
    if (this.len + samples.length > this.buf.length) {
      // drop what no output needs any more, grow if that is not enough
      const keep = Math.max(0, Math.floor(this.t) - this.half - 1 - this.start);
      this.buf.copyWithin(0, keep, this.len);
      this.len -= keep;
      this.start += keep;
      if (this.len + samples.length > this.buf.length) {
        const bigger = new Float32Array(2 * (this.len + samples.length));
        bigger.set(this.buf.subarray(0, this.len));
        this.buf = bigger;
      }
    }
    this.buf.set(samples, this.len);
    this.len += samples.length;
  }

  emit(v) {
    const s = Math.max(-1, Math.min(1, v));
    this.out[this.fill++] = s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);
    if (this.fill === CHUNK) this.flush();
  }

  flush() {
    if (this.fill === 0) return;
    const chunk = this.out.slice(0, this.fill);
    this.port.postMessage(chunk.buffer, [chunk.buffer]);
    this.fill = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const frames = input[0].length;
    const mono = new Float32Array(frames);
    for (const ch of input) for (let i = 0; i < frames; i++) mono[i] += ch[i] / input.length;
    this.append(mono);
    const end = this.start + this.len; // first absolute index not yet received
    while (this.t + this.half < end) {
      const lo = Math.max(Math.ceil(this.t - this.half), 0);
      const hi = Math.floor(this.t + this.half);
      let acc = 0;
      for (let k = lo; k <= hi; k++) {
        const j = k - this.start;
        if (j >= 0) acc += this.buf[j] * this.tap(this.t - k);
      }
      this.emit(acc);
      this.t += this.step;
    }
    return true;
  }
}

registerProcessor("xiaoan-capture", CaptureProcessor);
