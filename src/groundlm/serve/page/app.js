// The groundlm page: pick or upload a picture, ask a task, draw the answer on the picture.
// Coordinates from the server are pixels of the original picture; the canvas shows it scaled by `scale`.
"use strict";

const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const ctx = canvas.getContext("2d");
const state = { picture: null, blob: null, scale: 1, box: null, drag: null, answer: null, tasks: [] };
const COLORS = { box: "#ff2020", drawn: "#ffd400", axes: ["#ff0000", "#00c800", "#0050ff"] };

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

function redraw() {
  const p = state.picture;
  if (!p) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(p, 0, 0, canvas.width, canvas.height);
  const s = state.scale;
  const rect = (b, color, width) => {
    ctx.strokeStyle = color; ctx.lineWidth = width;
    ctx.strokeRect(b[0] * s, b[1] * s, (b[2] - b[0]) * s, (b[3] - b[1]) * s);
  };
  if (state.box) rect(state.box, COLORS.drawn, 2);
  const a = state.answer;
  if (!a) return;
  const boxes = (a.parsed && a.parsed.boxes) || (a.box ? [a.box] : []);
  for (const b of boxes) rect(b, COLORS.box, 3);
  if (a.axes && a.box) {
    const cx = (a.box[0] + a.box[2]) / 2 * s, cy = (a.box[1] + a.box[3]) / 2 * s;
    a.axes.forEach((end, k) => {
      ctx.strokeStyle = COLORS.axes[k]; ctx.lineWidth = 3;
      ctx.beginPath(); ctx.moveTo(cx, cy); ctx.lineTo(end[0] * s, end[1] * s); ctx.stroke();
    });
  }
}

function showPicture(blob) {
  const img = new Image();
  img.onload = () => {
    state.picture = img;
    state.blob = blob;
    state.scale = Math.min(512 / img.width, 512 / img.height);
    canvas.width = Math.round(img.width * state.scale);
    canvas.height = Math.round(img.height * state.scale);
    state.box = null; state.answer = null;
    $("box").value = "";
    clearAnswer();
    redraw();
  };
  img.src = URL.createObjectURL(blob);
}

function clearAnswer() {
  $("answer").dataset.state = "idle";
  $("answer-text").textContent = ""; $("drawn").innerHTML = ""; $("error").textContent = ""; $("raw").textContent = "";
}

async function loadSample(sample, thumb) {
  document.querySelectorAll("#samples img").forEach((t) => t.classList.remove("chosen"));
  thumb.classList.add("chosen");
  const blob = await (await fetch(sample.url)).blob();
  showPicture(blob);
  const list = $("suggestions");
  list.innerHTML = "";
  const names = $("task").value === "pose" ? sample.people : sample.queries;
  for (const q of names) { const o = document.createElement("option"); o.value = q; list.appendChild(o); }
  if (names.length) $("query").value = names[0];
}

function syncTask() {
  const spec = state.tasks.find((t) => t.name === $("task").value);
  if (!spec) return;
  $("query-row").style.display = spec.needs === "query" ? "" : "none";
  $("box-row").style.display = spec.needs === "box" ? "" : "none";
  $("numeric").disabled = !spec.numeric;
}

function pointer(ev) {
  const r = canvas.getBoundingClientRect();
  const k = canvas.width / r.width;
  return [(ev.clientX - r.left) * k / state.scale, (ev.clientY - r.top) * k / state.scale];
}

canvas.addEventListener("mousedown", (ev) => { if (state.picture) state.drag = pointer(ev); });
canvas.addEventListener("mousemove", (ev) => {
  if (!state.drag) return;
  const [x, y] = pointer(ev), [x0, y0] = state.drag;
  const w = state.picture.width, h = state.picture.height;
  const clamp = (v, hi) => Math.max(0, Math.min(hi, v));
  state.box = [Math.min(x0, x), Math.min(y0, y), Math.max(x0, x), Math.max(y0, y)].map((v, i) => clamp(v, i % 2 ? h : w));
  $("box").value = state.box.map((v) => v.toFixed(0)).join(" ");
  redraw();
});
window.addEventListener("mouseup", () => {
  if (!state.drag) return;
  state.drag = null;
  if (state.box && (state.box[2] - state.box[0] < 2 || state.box[3] - state.box[1] < 2)) { state.box = null; redraw(); }
  else if (state.box && state.tasks.some((t) => t.needs === "box")) {
    $("task").value = state.tasks.find((t) => t.needs === "box").name;
    syncTask();
  }
});
$("box").addEventListener("change", () => {
  const v = $("box").value.replace(/,/g, " ").trim().split(/\s+/).map(Number);
  state.box = v.length === 4 && v.every(Number.isFinite) ? v : null;
  redraw();
});
$("upload").addEventListener("change", () => {
  const f = $("upload").files[0];
  if (f) { document.querySelectorAll("#samples img").forEach((t) => t.classList.remove("chosen")); showPicture(f); }
});
$("task").addEventListener("change", syncTask);

$("ask").addEventListener("click", async () => {
  if (!state.blob) { $("error").textContent = "Pick or upload a picture first."; return; }
  const task = $("task").value;
  const form = new FormData();
  form.append("image", state.blob, "picture");
  form.append("query", $("query").value);
  if ($("box").value.trim()) form.append("box", $("box").value);
  form.append("constrain", $("constrain").checked ? "true" : "false");
  if (!$("numeric").disabled) form.append("numeric", $("numeric").value);
  clearAnswer();
  $("answer").dataset.state = "waiting";
  $("ask").disabled = true;
  try {
    const r = await fetch(`/api/${encodeURIComponent(task)}`, { method: "POST", body: form });
    const body = await r.json();
    $("raw").textContent = JSON.stringify(body, null, 2);
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    state.answer = body;
    $("answer-text").textContent = body.text;
    const items = [];
    for (const b of (body.parsed && body.parsed.boxes) || []) items.push(`box ${b.map((v) => v.toFixed(0)).join(" ")}`);
    if (body.pose) items.push(`yaw ${body.pose.yaw.toFixed(1)}°  pitch ${body.pose.pitch.toFixed(1)}°  roll ${body.pose.roll.toFixed(1)}°`);
    for (const t of items) { const li = document.createElement("li"); li.textContent = t; $("drawn").appendChild(li); }
    $("answer").dataset.state = "done";
    redraw();
  } catch (err) {
    $("error").textContent = err.message;
    $("answer").dataset.state = "error";
  } finally {
    $("ask").disabled = false;
  }
});

async function init() {
  const [health, tasks, samples] = await Promise.all([getJSON("/health"), getJSON("/api/tasks"), getJSON("/api/samples")]);
  $("model").textContent = `model ${health.model} on ${health.device}`;
  state.tasks = tasks;
  for (const t of tasks) {
    const o = document.createElement("option"); o.value = t.name; o.textContent = t.name; o.title = t.summary;
    $("task").appendChild(o);
  }
  syncTask();
  samples.forEach((s, i) => {
    const img = document.createElement("img");
    img.src = s.url; img.alt = s.name; img.title = `${s.name} (${s.domain})`; img.dataset.name = s.name;
    img.addEventListener("click", () => loadSample(s, img));
    $("samples").appendChild(img);
    if (i === 0) loadSample(s, img);
  });
}

init().catch((err) => { $("error").textContent = `could not start: ${err.message}`; });
