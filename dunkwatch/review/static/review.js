// The review page's only script: corrections by click and drag, and training progress.
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
    let from = null, range = null;
    const at = (event) => {
      const box = track.getBoundingClientRect();
      return Math.min(duration, Math.max(0, (event.clientX - box.left) / box.width * duration));
    };
    const show = (a, b) => {
      selection.setAttribute("x", Math.min(a, b));
      selection.setAttribute("width", Math.abs(b - a));
    };
    track.addEventListener("mousedown", (e) => { from = at(e); show(from, from); e.preventDefault(); });
    track.addEventListener("mousemove", (e) => { if (from !== null) show(from, at(e)); });
    window.addEventListener("mouseup", (e) => {
      if (from === null) return;
      const to = at(e);
      range = [round(Math.min(from, to)), round(Math.max(from, to))];
      from = null;
      if (range[1] - range[0] < 0.2) { range = null; missed.disabled = true; return; }
      label.textContent = `selected ${range[0].toFixed(1)}–${range[1].toFixed(1)} s`;
      missed.disabled = false;
    });
    missed.addEventListener("click", () => { if (range) correct(videoId, [[range[0], range[1], "dunk"]]); });
  }
  for (const clip of article.querySelectorAll(".clip")) {
    const video = clip.querySelector("video");
    const d = clip.dataset;
    const start = parseFloat(d.start), end = parseFloat(d.end), clipStart = parseFloat(d.clipStart);
    let trim = {start: null, end: null};
    const now = () => round(clipStart + video.currentTime / slowMotion);  // the original's own time
    clip.querySelector(".no-player").addEventListener("click", () => correct(videoId, [[start, end, "empty"]]));
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

const trainLog = document.getElementById("train-log");
if (trainLog && trainLog.dataset.running === "yes") {
  const poll = async () => {
    const progress = await (await fetch("/train/progress")).json();
    trainLog.textContent = progress.tail;
    if (progress.running) setTimeout(poll, 2000); else location.reload();
  };
  setTimeout(poll, 2000);
}
