/**
 * The script that runs inside the model widget's HTML output (view/widget.ts): the model decoded from
 * its embedded bytes, a seeded sampler in plain JavaScript, the canvas, the controls. It runs with no
 * round trip to the kernel and needs nothing but the page (no CDN, no library).
 *
 * It is kept as source text (ES2017, no modules; no backslash escapes or template holes in it) and is called as `rbmWidget(rootElement, data)`.
 * The sampler is the one of core/sampling.ts, written again for one chain in the page:
 *   h ~ σ(β(vW + c)),  v_free ~ σ(β(hWᵀ + b)),  v_known kept
 * and, for a DBN with label units, the class-conditional dream of dbn/generate.ts: Gibbs in the top
 * RBM with the label clamped, the picture p(v | x_{L−1}) from a down pass of probabilities.
 * Both use sparse products (a binary layer adds only the rows of its units that are on); a dream's
 * down pass (dense: it carries probabilities) runs once per drawn frame, not once per step.
 * `root.rbmWidget` exposes the state and a benchmark for the browser test.
 */
export const WIDGET_SCRIPT = `
function rbmWidget(root, D) {
  "use strict";
  // ---- decoding: int8 weights with one scale per column, float32 biases, packed digits ----
  function bytes(b64) { var s = atob(b64), out = new Uint8Array(s.length); for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); return out; }
  function f32(b64) { var u = bytes(b64); return new Float32Array(u.buffer, 0, u.length / 4); }
  function matrix(m) { // m: {rows, cols, q (int8 row-major), scale (per column)}; returns row-major and its transpose
    var q = new Int8Array(bytes(m.q).buffer), s = f32(m.scale), R = m.rows, C = m.cols;
    var A = new Float32Array(R * C), T = new Float32Array(R * C);
    for (var i = 0; i < R; i++) for (var j = 0; j < C; j++) { var x = q[i * C + j] * s[j]; A[i * C + j] = x; T[j * R + i] = x; }
    return { rows: R, cols: C, A: A, T: T };
  }
  var layers = D.layers.map(function (l) { return { W: matrix(l.W), b: f32(l.b), c: f32(l.c) }; });
  var gen = D.generative ? D.generative.map(function (g) { return { W: matrix(g.W), b: f32(g.b) }; }) : null;
  var H = D.height, Wd = D.width, N0 = H * Wd, K = D.nLabels, isDBN = layers.length > 1;
  var digits = [], packed = bytes(D.digits);
  for (var d = 0; d < D.nDigits; d++) { var img = new Float32Array(N0); for (var i = 0; i < N0; i++) img[i] = (packed[(d * N0 + i) >> 3] >> ((d * N0 + i) & 7)) & 1; digits.push(img); }

  // ---- seeded xoshiro128** (the library's generator, core/random.ts) ----
  var s0, s1, s2, s3;
  function seed(x) {
    var z = x >>> 0;
    function mix() { z = (z + 0x9e3779b9) >>> 0; var t = z; t = Math.imul(t ^ (t >>> 16), 0x85ebca6b) >>> 0; t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35) >>> 0; return (t ^ (t >>> 16)) >>> 0; }
    s0 = mix(); s1 = mix(); s2 = mix(); s3 = mix();
  }
  function uniform() {
    var x = Math.imul(s1, 5), r = Math.imul((x << 7) | (x >>> 25), 9) >>> 0, t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
    return r * 2.3283064365386963e-10;
  }
  seed(D.seed);
  function sigmoid(a) { return 1 / (1 + Math.exp(-a)); }
  /** out = bias + Σ_{i: x_i = 1} rows of A (A row-major [x.length, out.length]); x binary. */
  function sparseUp(x, A, bias, out) {
    var n = out.length; out.set(bias);
    for (var i = 0; i < x.length; i++) if (x[i] !== 0) { var o = i * n; for (var j = 0; j < n; j++) out[j] += A[o + j]; }
  }
  /** out = bias + x A for real-valued x (down passes of probabilities). */
  function denseUp(x, A, bias, out) {
    var n = out.length; out.set(bias);
    for (var i = 0; i < x.length; i++) { var xi = x[i]; if (xi === 0) continue; var o = i * n; for (var j = 0; j < n; j++) out[j] += xi * A[o + j]; }
  }

  // ---- state ----
  var top = layers[layers.length - 1], nTopV = top.W.rows, nTopH = top.W.cols, nX = nTopV - K;
  var st = {
    v: new Float32Array(N0), pv: new Float32Array(N0), values: new Float32Array(N0), known: new Uint8Array(N0),
    h: new Float32Array(layers[0].W.cols), ph: new Float32Array(layers[0].W.cols),
    tv: new Float32Array(nTopV), th: new Float32Array(nTopH), ta: new Float32Array(nTopH), tb: new Float32Array(nTopV),
    beta: 1, label: K > 0 ? 0 : -1, steps: 0, running: false, show: "samples", tool: "draw", speed: D.speed, mode: isDBN ? "dream" : "inpaint",
    rate: 0,
  };
  var act = new Float32Array(N0);

  /** One clamped block-Gibbs step of the RBM (layer 0): v → h → v, known pixels kept. */
  function stepRBM() {
    var L0 = layers[0], nH = L0.W.cols, b = st.beta;
    sparseUp(st.v, L0.W.A, L0.c, st.ph);
    for (var j = 0; j < nH; j++) { st.ph[j] = sigmoid(b * st.ph[j]); st.h[j] = uniform() < st.ph[j] ? 1 : 0; }
    sparseUp(st.h, L0.W.T, L0.b, act);
    for (var i = 0; i < N0; i++) {
      var p = sigmoid(b * act[i]);
      if (st.known[i]) { st.pv[i] = st.values[i]; st.v[i] = st.values[i]; } else { st.pv[i] = p; st.v[i] = uniform() < p ? 1 : 0; }
    }
  }
  /** One step of the top RBM with the label clamped (or sampled when st.label < 0). */
  function stepTop() {
    var b = st.beta;
    sparseUp(st.tv, top.W.A, top.c, st.ta);
    for (var j = 0; j < nTopH; j++) st.th[j] = uniform() < sigmoid(b * st.ta[j]) ? 1 : 0;
    sparseUp(st.th, top.W.T, top.b, st.tb);
    if (K > 0) {
      var y = st.label;
      if (y < 0) { var m = -Infinity, z = 0, k; for (k = 0; k < K; k++) m = Math.max(m, b * st.tb[nX + k]);
        var u = uniform(), acc = 0; for (k = 0; k < K; k++) z += Math.exp(b * st.tb[nX + k] - m);
        for (k = 0, y = K - 1; k < K; k++) { acc += Math.exp(b * st.tb[nX + k] - m) / z; if (u < acc) { y = k; break; } } }
      for (var k2 = 0; k2 < K; k2++) st.tv[nX + k2] = k2 === y ? 1 : 0;
      st.dreamLabel = y;
    }
    for (var i = 0; i < nX; i++) { var p = sigmoid(b * st.tb[i]); st.tb[i] = p; st.tv[i] = uniform() < p ? 1 : 0; }
  }
  /** The dream's picture: a down pass of probabilities from p(x_{L−1} | h) to the pixels. */
  function downPass() {
    var x = st.tb.subarray(0, nX);
    for (var l = layers.length - 2; l >= 0; l--) {
      var g = gen ? gen[l] : null, A = g ? g.W.A : layers[l].W.T, bias = g ? g.b : layers[l].b;
      var out = new Float32Array(bias.length); denseUp(x, A, bias, out);
      for (var i = 0; i < out.length; i++) out[i] = sigmoid(out[i]);
      x = out;
    }
    st.pv.set(x);
    for (var i2 = 0; i2 < N0; i2++) st.v[i2] = uniform() < x[i2] ? 1 : 0;
  }
  /** Start the dream from the canvas: a sampled up pass of the drawing to layer n_{L−1}. */
  function upFromCanvas() {
    var x = st.v;
    for (var l = 0; l < layers.length - 1; l++) {
      var out = new Float32Array(layers[l].W.cols); sparseUp(x, layers[l].W.A, layers[l].c, out);
      for (var j = 0; j < out.length; j++) out[j] = uniform() < sigmoid(out[j]) ? 1 : 0;
      x = out;
    }
    st.tv.set(x);
  }
  var pictureStale = false;
  function step() { if (st.mode === "dream") { stepTop(); pictureStale = true; } else stepRBM(); st.steps++; }

  // ---- the page ----
  var Z = D.zoom;
  root.innerHTML = "";
  root.style.cssText = "font:13px sans-serif;display:flex;gap:14px;align-items:flex-start;flex-wrap:wrap";
  function el(tag, attrs, parent, text) { var e = document.createElement(tag); for (var k in attrs) e.setAttribute(k, attrs[k]); if (text) e.textContent = text; (parent || root).appendChild(e); return e; }
  var left = el("div", {}), right = el("div", { style: "max-width:420px" });
  el("div", { style: "font-weight:bold;margin-bottom:4px" }, left, D.title);
  var canvas = el("canvas", { width: Wd * Z, height: H * Z, "class": "rbm-widget-canvas", style: "border:1px solid #888;cursor:crosshair;touch-action:none" }, left);
  var ctx = canvas.getContext("2d");
  var status = el("div", { "class": "rbm-widget-status", style: "margin-top:4px;font-family:monospace" }, left);
  function row(label) { var r = el("div", { style: "margin:3px 0" }, right); if (label) el("span", { style: "display:inline-block;width:92px" }, r, label); return r; }
  function button(parent, text, f, cls) { var b = el("button", { type: "button", "class": cls || "" }, parent, text); b.onclick = f; b.style.marginRight = "3px"; return b; }
  var r1 = row("chain");
  button(r1, "start", function () { st.running = true; loop(); }, "rbm-start");
  button(r1, "stop", function () { st.running = false; }, "rbm-stop");
  button(r1, "step", function () { step(); draw(); }, "rbm-step");
  var speed = el("input", { type: "range", min: "1", max: "200", value: String(st.speed), "class": "rbm-speed" }, row("steps/frame"));
  speed.oninput = function () { st.speed = +speed.value; };
  var betaIn = el("input", { type: "range", min: "0.1", max: "2", step: "0.05", value: "1", "class": "rbm-beta" }, row("β (1/T)"));
  var betaOut = el("span", {}, betaIn.parentNode, " 1.00");
  betaIn.oninput = function () { st.beta = +betaIn.value; betaOut.textContent = " " + st.beta.toFixed(2); };
  var r3 = row("show");
  var showSel = el("select", { "class": "rbm-show" }, r3);
  el("option", { value: "samples" }, showSel, "samples v"); el("option", { value: "probs" }, showSel, "p(v | h)");
  showSel.onchange = function () { st.show = showSel.value; draw(); };
  var r4 = row("brush");
  [["draw", "draw (clamps)"], ["erase", "erase (clamps)"], ["clamp", "clamp"], ["free", "free"]].forEach(function (t) {
    button(r4, t[1], function () { st.tool = t[0]; draw(); }, "rbm-tool-" + t[0]);
  });
  var r5 = row("free region");
  ["top", "bottom", "left", "right", "all", "none"].forEach(function (name) { button(r5, name, function () { freeRegion(name); }, "rbm-free-" + name); });
  var r6 = row("start digit");
  var digitIn = el("input", { type: "number", min: "0", max: String(D.nDigits - 1), value: "0", "class": "rbm-digit", style: "width:50px" }, r6);
  button(r6, "load", function () { loadDigit(+digitIn.value); }, "rbm-load");
  button(r6, "clear", function () { st.values.fill(0); st.v.fill(0); st.pv.fill(0); st.known.fill(0); draw(); }, "rbm-clear");
  if (isDBN) {
    var r7 = row("dream of");
    var labelSel = el("select", { "class": "rbm-label" }, r7);
    for (var c = 0; c < K; c++) el("option", { value: String(c) }, labelSel, "digit " + c);
    if (K > 0) el("option", { value: "-1" }, labelSel, "free label");
    labelSel.onchange = function () { st.label = +labelSel.value; };
    button(r7, "dream from canvas", function () { upFromCanvas(); st.mode = "dream"; }, "rbm-dream");
    el("div", { style: "color:#555;margin:2px 0" }, right, "A DBN dreams: Gibbs in its top RBM, the picture from a down pass; the brush edits the start of the next dream.");
  }
  var filtersTitle = el("div", { style: "margin-top:6px" }, right, "Hover or click the canvas: the filters of the most active hidden units there.");
  var filters = el("div", { "class": "rbm-filters", style: "display:flex;flex-wrap:wrap;gap:3px" }, right);

  function freeRegion(name) {
    for (var y = 0; y < H; y++) for (var x = 0; x < Wd; x++) {
      var free = name === "all" || (name === "top" && y < H / 2) || (name === "bottom" && y >= H / 2) || (name === "left" && x < Wd / 2) || (name === "right" && x >= Wd / 2);
      var i = y * Wd + x; st.known[i] = free ? 0 : 1; if (!free) st.values[i] = st.v[i];
    }
    if (!isDBN) st.mode = "inpaint";
    draw();
  }
  function loadDigit(k) {
    var img = digits[Math.max(0, Math.min(D.nDigits - 1, k | 0))];
    st.values.set(img); st.v.set(img); st.pv.set(img);
    if (!isDBN) st.mode = "inpaint";
    draw();
  }

  // ---- drawing with the pointer ----
  function cellAt(e) { var r = canvas.getBoundingClientRect(); return { x: Math.floor((e.clientX - r.left) / r.width * Wd), y: Math.floor((e.clientY - r.top) / r.height * H) }; }
  function paint(e) {
    var p = cellAt(e);
    for (var dy = 0; dy <= 1; dy++) for (var dx = 0; dx <= 1; dx++) {
      var x = p.x + dx - (dx && p.x === Wd - 1 ? 2 : 0), y = p.y + dy - (dy && p.y === H - 1 ? 2 : 0);
      if (x < 0 || y < 0 || x >= Wd || y >= H) continue;
      var i = y * Wd + x;
      if (st.tool === "draw" || st.tool === "erase") { var val = st.tool === "draw" ? 1 : 0; st.values[i] = val; st.v[i] = val; st.pv[i] = val; st.known[i] = isDBN ? 0 : 1; }
      else if (st.tool === "clamp") { st.known[i] = 1; st.values[i] = st.v[i]; }
      else st.known[i] = 0;
    }
    if (!isDBN) st.mode = "inpaint";
    draw();
  }
  var drawing = false;
  canvas.addEventListener("pointerdown", function (e) { drawing = true; if (canvas.setPointerCapture && e.pointerId !== undefined) try { canvas.setPointerCapture(e.pointerId); } catch (err) {} paint(e); showFilters(e); });
  canvas.addEventListener("pointermove", function (e) { if (drawing) paint(e); else showFilters(e); });
  window.addEventListener("pointerup", function () { drawing = false; });

  /** Filters of the hidden units most active around the pointer: p(h_j = 1 | v) · Σ_{i near} W_ij. */
  function showFilters(e) {
    var p = cellAt(e), L0 = layers[0], nH = L0.W.cols, A = L0.W.A;
    var ph = new Float32Array(nH); sparseUp(st.v, A, L0.c, ph);
    var score = [];
    for (var j = 0; j < nH; j++) {
      var s = 0;
      for (var dy = -1; dy <= 1; dy++) for (var dx = -1; dx <= 1; dx++) { var x = p.x + dx, y = p.y + dy; if (x >= 0 && y >= 0 && x < Wd && y < H) s += A[(y * Wd + x) * nH + j]; }
      score.push([sigmoid(ph[j]) * s, j, sigmoid(ph[j])]);
    }
    score.sort(function (a, b) { return b[0] - a[0]; });
    filters.innerHTML = "";
    st.hoverUnits = [];
    for (var t = 0; t < D.nFilters; t++) {
      var jj = score[t][1], box = el("div", { style: "text-align:center;font-size:10px" }, filters);
      var fc = el("canvas", { width: Wd * 2, height: H * 2, "class": "rbm-filter" }, box);
      var lo = Infinity, hi = -Infinity, i;
      for (i = 0; i < N0; i++) { var w = A[i * nH + jj]; lo = Math.min(lo, w); hi = Math.max(hi, w); }
      var m = Math.max(Math.abs(lo), Math.abs(hi)) || 1, fx = fc.getContext("2d"), im = fx.createImageData(Wd, H);
      for (i = 0; i < N0; i++) { var u = A[i * nH + jj] / m, r = u > 0 ? 255 : Math.round(255 * (1 + u)), g = Math.round(255 * (1 - Math.abs(u))), bl = u < 0 ? 255 : Math.round(255 * (1 - u));
        im.data[4 * i] = r; im.data[4 * i + 1] = g; im.data[4 * i + 2] = bl; im.data[4 * i + 3] = 255; }
      var off = document.createElement("canvas"); off.width = Wd; off.height = H; off.getContext("2d").putImageData(im, 0, 0);
      fx.imageSmoothingEnabled = false; fx.drawImage(off, 0, 0, Wd * 2, H * 2);
      el("div", {}, box, "h" + jj + " " + score[t][2].toFixed(2));
      st.hoverUnits.push(jj);
    }
  }

  // ---- rendering and the loop ----
  var image = ctx.createImageData(Wd, H), small = document.createElement("canvas"); small.width = Wd; small.height = H;
  function draw() {
    if (pictureStale) { downPass(); pictureStale = false; } // the dream's picture, once per frame
    var src = st.show === "probs" ? st.pv : st.v;
    for (var i = 0; i < N0; i++) {
      var g = Math.round(255 * (1 - src[i])), k = st.known[i] && st.mode === "inpaint";
      image.data[4 * i] = k ? Math.round(g * 0.75) : g; image.data[4 * i + 1] = k ? Math.round(g * 0.85) : g; image.data[4 * i + 2] = g; image.data[4 * i + 3] = 255;
    }
    small.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false; ctx.drawImage(small, 0, 0, Wd * Z, H * Z);
    var clamped = 0; for (var j = 0; j < N0; j++) clamped += st.known[j];
    status.textContent = "step " + st.steps + " · " + st.rate.toFixed(0) + " steps/s · " + (st.mode === "dream" ? "dream" + (K > 0 ? " of " + (st.dreamLabel === undefined ? "?" : st.dreamLabel) : "") : clamped + " pixels clamped") + " · β " + st.beta.toFixed(2);
  }
  var last = 0, lastSteps = 0;
  function loop() {
    if (!st.running) return;
    for (var s = 0; s < st.speed; s++) step();
    var now = performance.now();
    if (now - last > 500) { if (last > 0) st.rate = (st.steps - lastSteps) / ((now - last) / 1000); last = now; lastSteps = st.steps; }
    draw();
    requestAnimationFrame(loop);
  }
  loadDigit(0);
  if (isDBN) { upFromCanvas(); st.mode = "dream"; }
  draw();
  root.rbmWidget = {
    state: function () { return { v: Array.from(st.v), pv: Array.from(st.pv), known: Array.from(st.known), values: Array.from(st.values), steps: st.steps, running: st.running, mode: st.mode, rate: st.rate, beta: st.beta, label: st.label, dreamLabel: st.dreamLabel, hoverUnits: st.hoverUnits || [] }; },
    /** Runs n steps at once and returns steps per second (the sampler alone, no drawing). */
    bench: function (n) { var t0 = performance.now(); for (var i = 0; i < n; i++) step(); var dt = performance.now() - t0; draw(); return n / (dt / 1000); },
  };
}
`;
