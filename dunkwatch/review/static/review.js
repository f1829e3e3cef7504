// The review page's only script: corrections by click, tap and drag, share links, keyboard
// shortcuts, and training progress.
"use strict";
const body = document.body;
const slowMotion = parseFloat(body.dataset.slowMotion) || 1;
const message = document.getElementById("message");

function say(text, ok) {
  message.textContent = text;
  message.className = ok ? "ok" : "error";
}

async function correct(videoId, ranges) {
  const form = new URLSearchParams({video: videoId, ranges: JSON.stringify(ranges), stamp: body.dataset.stamp,
                                    csrf: body.dataset.csrf});
  const response = await fetch("/corrections", {method: "POST", body: form,
                                                headers: {"X-CSRF-Token": body.dataset.csrf}});
  const answer = await response.json().catch(() => ({ok: false, message: `error ${response.status}`}));
  if (answer.ok) body.dataset.stamp = answer.stamp;
  say(answer.message, answer.ok);
  return answer.ok;
}

const round = (t) => Math.round(t * 1000) / 1000;

for (const article of document.querySelectorAll("article.video")) {
  const videoId = article.dataset.video;
  const duration = parseFloat(article.dataset.duration);
  const track = article.querySelector("svg.track");
  if (track) {
    const selection = track.querySelector(".selection");
    const label = article.querySelector(".range");
    const missed = article.querySelector("button.missed");
    const missedShot = article.querySelector("button.missed-shot");
    let from = null, range = null;
    const at = (event) => {
      const box = track.getBoundingClientRect();
      return Math.min(duration, Math.max(0, (event.clientX - box.left) / box.width * duration));
    };
    const show = (a, b) => {
      selection.setAttribute("x", Math.min(a, b));
      selection.setAttribute("width", Math.abs(b - a));
    };
    // Pointer events: a mouse drag and a finger's drag alike.
    track.addEventListener("pointerdown", (e) => { from = at(e); show(from, from); e.preventDefault(); });
    track.addEventListener("pointermove", (e) => { if (from !== null) show(from, at(e)); });
    window.addEventListener("pointerup", (e) => {
      if (from === null) return;
      const to = at(e);
      range = [round(Math.min(from, to)), round(Math.max(from, to))];
      from = null;
      if (range[1] - range[0] < 0.2) { range = null; missed.disabled = missedShot.disabled = true; return; }
      label.textContent = `selected ${range[0].toFixed(1)}–${range[1].toFixed(1)} s`;
      missed.disabled = missedShot.disabled = false;
    });
    missed.addEventListener("click", () => { if (range) correct(videoId, [[range[0], range[1], "dunk"]]); });
    // A shot the finder missed: the selected range holds one attempt (its result left to the player's next click).
    missedShot.addEventListener("click", () => { if (range) correct(videoId, [[range[0], range[1], "shot"]]); });
  }
  for (const clip of article.querySelectorAll(".clip")) {
    const video = clip.querySelector("video");
    const d = clip.dataset;
    const start = parseFloat(d.start), end = parseFloat(d.end), clipStart = parseFloat(d.clipStart);
    let trim = {start: null, end: null};
    const now = () => round(clipStart + video.currentTime / slowMotion);  // the original's own time
    clip.querySelector(".no-player").addEventListener("click", () => correct(videoId, [[start, end, "empty"]]));
    for (const button of clip.querySelectorAll(".shot-label")) {  // make, miss or no shot, over the attempt
      button.addEventListener("click", () => correct(videoId, [[start, end, button.dataset.label]]));
    }
    const save = clip.querySelector(".trim-save");
    clip.querySelector(".trim-start").addEventListener("click", () => { trim.start = now(); save.disabled = false;
      say(`trim starts at ${trim.start.toFixed(2)} s`, true); });
    clip.querySelector(".trim-end").addEventListener("click", () => { trim.end = now(); save.disabled = false;
      say(`trim ends at ${trim.end.toFixed(2)} s`, true); });
    save.addEventListener("click", () => {
      const a = trim.start ?? start, b = trim.end ?? end;
      if (b - a < 0.1) { say("the trim's end must come after its start", false); return; }
      const ranges = [[a, b, "dunk"]];
      if (a > start) ranges.push([start, a, "empty"]);
      if (b < end) ranges.push([b, end, "empty"]);
      correct(videoId, ranges);
    });
  }
}

// A stretch offered first: the player's answer is a correction over it, like any other.
for (const look of document.querySelectorAll("li.look")) {
  const d = look.dataset;
  for (const button of look.querySelectorAll("button[data-label]")) {
    button.addEventListener("click", async () => {
      if (await correct(d.video, [[parseFloat(d.start), parseFloat(d.end), button.dataset.label]])) look.classList.add("answered");
    });
  }
}

// Pin an original: archive retention leaves it alone.
for (const button of document.querySelectorAll("button.pin")) {
  button.addEventListener("click", async () => {
    const videoId = button.closest("article.video").dataset.video;
    const pinned = button.dataset.pinned !== "1";
    const answer = await post(`/video/${videoId}/pin`, {pinned: pinned ? "1" : "0"});
    say(answer.message, answer.ok);
    if (!answer.ok) return;
    button.dataset.pinned = pinned ? "1" : "0";
    button.setAttribute("aria-pressed", String(pinned));
    button.textContent = pinned ? "original kept: let it go" : "keep the original";
  });
}

async function post(path, fields) {
  const form = new URLSearchParams({...fields, csrf: body.dataset.csrf});
  const response = await fetch(path, {method: "POST", body: form, headers: {"X-CSRF-Token": body.dataset.csrf}});
  return response.json().catch(() => ({ok: false, message: `error ${response.status}`}));
}

async function share(button) {
  const answer = await post("/share", {kind: button.dataset.kind, item: button.dataset.item});
  say(answer.message, answer.ok);
  if (!answer.ok) return;
  let field = button.parentElement.querySelector("input.link");
  if (!field) {
    field = document.createElement("input");
    field.className = "link";
    field.readOnly = true;
    button.after(field);
  }
  field.value = answer.url;
  field.select();
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(answer.url).catch(() => {});
}

for (const button of document.querySelectorAll("button.share")) button.addEventListener("click", () => share(button));

const rotate = document.getElementById("rotate-share-key");
if (rotate) rotate.addEventListener("click", async () => {
  const answer = await post("/share/rotate", {});
  say(answer.message, answer.ok);
});

// Ignore zones: click points over an empty court, close each polygon, save them all.
for (const court of document.querySelectorAll("figure.court")) {
  const svg = court.querySelector("svg"), group = svg.querySelector("g.zones"), line = svg.querySelector(".drawing");
  let zones = JSON.parse(court.dataset.zones || "[]"), points = [];
  const ns = "http://www.w3.org/2000/svg", pts = (p) => p.map(([x, y]) => `${x},${y}`).join(" ");
  const draw = () => {
    group.replaceChildren(...zones.map((z) => { const g = document.createElementNS(ns, "polygon");
                                                g.setAttribute("points", pts(z)); return g; }));
    line.setAttribute("points", pts(points));
  };
  // The hoop: in hoop mode a drag draws its box, or moves it when it starts inside the box.
  const hoopRect = svg.querySelector("rect.hoop"), editHoop = court.querySelector(".edit-hoop");
  const saveHoop = court.querySelector(".save-hoop");
  let hoop = JSON.parse(court.dataset.hoop || "null"), hoopMode = false, drag = null;
  const drawHoop = () => {
    const [x, y, w, h] = hoop || [0, 0, 0, 0];
    hoopRect.setAttribute("x", x); hoopRect.setAttribute("y", y);
    hoopRect.setAttribute("width", w); hoopRect.setAttribute("height", h);
  };
  const where = (e) => { const box = svg.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (e.clientX - box.left) / box.width)),
            Math.min(1, Math.max(0, (e.clientY - box.top) / box.height))]; };
  editHoop.addEventListener("click", () => { hoopMode = !hoopMode; editHoop.setAttribute("aria-pressed", hoopMode);
    say(hoopMode ? "drag a box over the rim and its net" : "hoop editing off", true); });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const [px, py] = where(e);
    if (drag.move) {
      const [x, y, w, h] = drag.start;
      hoop = [round(Math.min(1 - w, Math.max(0, x + px - drag.at[0]))), round(Math.min(1 - h, Math.max(0, y + py - drag.at[1]))), w, h];
    } else {
      hoop = [round(Math.min(px, drag.at[0])), round(Math.min(py, drag.at[1])),
              round(Math.abs(px - drag.at[0])), round(Math.abs(py - drag.at[1]))];
    }
    drawHoop();
  });
  window.addEventListener("pointerup", () => { if (drag) { drag = null; saveHoop.disabled = !(hoop && hoop[2] > 0 && hoop[3] > 0); } });
  saveHoop.addEventListener("click", async () => {
    const answer = await post(`/court/${court.dataset.scene}/hoop`, {hoop: JSON.stringify(hoop)});
    say(answer.message, answer.ok);
  });
  drawHoop();
  svg.addEventListener("pointerdown", (e) => {
    if (hoopMode) {
      const at = where(e);
      const inside = hoop && at[0] >= hoop[0] && at[0] <= hoop[0] + hoop[2] && at[1] >= hoop[1] && at[1] <= hoop[1] + hoop[3];
      drag = {at, move: inside, start: hoop};
      e.preventDefault();
      return;
    }
    const box = svg.getBoundingClientRect();
    points.push([round((e.clientX - box.left) / box.width), round((e.clientY - box.top) / box.height)]);
    draw();
  });
  court.querySelector(".close-zone").addEventListener("click", () => {
    if (points.length < 3) { say("a zone needs at least three points", false); return; }
    zones.push(points); points = []; draw();
  });
  court.querySelector(".clear-zones").addEventListener("click", () => { zones = []; points = []; draw(); });
  court.querySelector(".save-zones").addEventListener("click", async () => {
    const answer = await post(`/court/${court.dataset.scene}/zones`, {zones: JSON.stringify(zones)});
    say(answer.message, answer.ok);
  });
  draw();
}

// Keyboard: j/k next/previous clip, space play/pause, n "no player here", s share.
const clips = [...document.querySelectorAll(".clip")];
let current = -1;
function goTo(index) {
  if (!clips.length) return;
  if (current >= 0) clips[current].classList.remove("current");
  current = Math.max(0, Math.min(clips.length - 1, index));
  const clip = clips[current];
  clip.classList.add("current");
  clip.focus({preventScroll: true});
  clip.scrollIntoView({block: "center"});
}
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || ["INPUT", "TEXTAREA"].includes(e.target.tagName)) return;
  const clip = clips[current];
  if (e.key === "j") goTo(current + 1);
  else if (e.key === "k") goTo(current - 1);
  else if (e.key === " " && clip) {
    const video = clip.querySelector("video");
    if (video.paused) video.play(); else video.pause();
  } else if (e.key === "n" && clip) clip.querySelector("button.no-player").click();
  else if (e.key === "s" && clip) clip.querySelector("button.share").click();
  else return;
  e.preventDefault();
});

const trainLog = document.getElementById("train-log");
if (trainLog && trainLog.dataset.running === "yes") {
  const poll = async () => {
    const progress = await (await fetch("/train/progress")).json();
    trainLog.textContent = progress.tail;
    if (progress.running) setTimeout(poll, 2000); else location.reload();
  };
  setTimeout(poll, 2000);
}
