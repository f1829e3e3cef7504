"""The review page: watch clips, correct a label with one click, see the service and the models.

Flask (server-rendered HTML, one small script, no CDN) served by waitress. `dunkwatch review`
runs it alone; with `[review] enabled = true` the service runs it in a thread. Files are found
through the journal only: no path in a request reaches the file system.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dunkwatch.config import Config, parse_listen

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost",)
TRAIN_LOG = "review-train.log"  # "train now"'s output, in the state dir


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Segment:
    number: int
    start: float
    end: float
    clip_start: float
    clip_end: float
    clip: str | None  # file name in the video's outbox folder


@dataclass
class VideoCard:
    """One video as the page shows it."""
    id: int
    name: str  # as the CSVs name it
    state: str
    error: str | None = None
    duplicate_of: str | None = None
    skipped: str | None = None
    scorer: str | None = None
    model: str | None = None
    duration: float = 0.0
    threshold: float = 0.5
    segments: list[Segment] = field(default_factory=list)
    reel: str | None = None
    curve: str = ""  # SVG polyline points of the scores, x in seconds, y in 0..1 (1 at the top)
    when: str = ""


def csv_stamp(path: Path) -> str:
    """What the page read: a write carrying another stamp is based on a stale read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "none"


def _curve(times, scores, max_points: int = 1200) -> str:
    import numpy as np

    if times is None or len(times) == 0:
        return ""
    step = max(1, len(times) // max_points)
    t = np.asarray(times)[::step]
    s = np.clip(np.asarray(scores)[::step], 0.0, 1.0)
    return " ".join(f"{a:.2f},{1.0 - b:.3f}" for a, b in zip(t, s))


def csv_name(cfg: Config, video) -> str:
    """How the CSVs name a journal row's video (predictions.csv's name, for a processed one)."""
    from dunkwatch.pipeline.ingest import listed_name

    outbox = (video.outputs or {}).get("outbox")
    return listed_name(video.path, Path(outbox), cfg.paths.outbox) if outbox else video.name


def video_cards(cfg: Config, store, limit: int = 100) -> list[VideoCard]:
    """The journal's newest videos, with what each one's sidecar and stored scores say."""
    cards = []
    for v in sorted(store.recent(limit=limit), key=lambda v: v.id, reverse=True):  # newest arrivals first
        outputs = v.outputs or {}
        out_dir = Path(outputs["outbox"]) if outputs.get("outbox") else None
        card = VideoCard(v.id, csv_name(cfg, v), v.state.value if hasattr(v.state, "value") else str(v.state), error=v.error,
                         skipped=outputs.get("skipped"), scorer=outputs.get("scorer"), model=outputs.get("model"),
                         duration=float(outputs.get("duration") or 0.0))
        if v.duplicate_of is not None:
            original = store.get(v.duplicate_of)
            card.duplicate_of = original.name if original else str(v.duplicate_of)
        sidecar = _sidecar(out_dir, v.path) if out_dir and v.duplicate_of is None else None
        if sidecar:
            card.threshold = float(sidecar.get("threshold") or 0.5)
            clips = sidecar.get("clips") or []
            card.segments = [Segment(i + 1, s["start"], s["end"], s["clip_start"], s["clip_end"],
                                     clips[i] if i < len(clips) else None)
                             for i, s in enumerate(sidecar.get("segments", []))]
            card.reel = sidecar.get("highlights")
            card.duration = float(sidecar.get("duration") or card.duration)
            stored = store.load_scores(v.sha256) if v.sha256 else None
            if stored is not None:
                card.curve = _curve(stored[0], stored[1])
        cards.append(card)
    return cards


def _sidecar(out_dir: Path, video: Path) -> dict | None:
    try:
        return json.loads((out_dir / f"{video.stem}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class TrainingRun:
    """"train now": the same job as `dunkwatch train`, in the background, one at a time."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.log_path = cfg.paths.state_dir / TRAIN_LOG
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self) -> bool:
        from dunkwatch.schedule import train_command

        with self._lock:
            if self.running():
                return False
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "w", encoding="utf-8") as out:
                self._proc = subprocess.Popen(train_command(self.cfg), stdout=out, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL)
            return True

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def tail(self, lines: int = 12) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def create_app(cfg: Config, token: str | None = None):
    """The Flask app. `token`: required on every request (off loopback); None: no token."""
    from flask import Flask, Response, abort, jsonify, make_response, redirect, render_template, request, send_file

    from dunkwatch.fsutil import atomic_write_text, move_without_overwrite
    from dunkwatch.learn import registry
    from dunkwatch.learn.corrections import add_rows, format_time
    from dunkwatch.review.previews import playable
    from dunkwatch.status import collect_status
    from dunkwatch.store import State, Store

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    csrf = secrets.token_urlsafe(24)  # in every page; a cross-site form cannot read it
    csv_lock = threading.Lock()
    training = TrainingRun(cfg)
    paths = cfg.paths

    @contextmanager
    def journal():
        opened = Store(paths.state_dir)
        try:
            yield opened
        finally:
            opened.close()

    def journal_video(video_id: int):
        with journal() as j:
            video = j.get(video_id)
        if video is None:
            abort(404)
        return video

    @app.before_request
    def guard():
        if token is not None:
            given = request.args.get("token") or request.cookies.get("dunkwatch_token") or \
                request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not given or not hmac.compare_digest(given, token):
                return Response("dunkwatch review: a token is needed on this address (see the service's log, "
                                "or review.token in the config): open /?token=...\n", status=401,
                                mimetype="text/plain")
        if request.method == "POST":
            origin = request.headers.get("Origin")
            if origin and origin.rstrip("/") != request.host_url.rstrip("/"):
                abort(403, "cross-site request refused")
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf", "")
            if not hmac.compare_digest(sent, csrf):
                abort(403, "missing or wrong form token: reload the page")

    @app.after_request
    def remember_token(response):
        if token is not None and request.args.get("token"):
            response.set_cookie("dunkwatch_token", token, httponly=True, samesite="Strict")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; media-src 'self'"
        return response

    @app.get("/")
    def index():
        with journal() as j:
            cards = video_cards(cfg, j)
            quarantined = [v for v in j.recent(state=State.FAILED.value, limit=100) if v.location]
        report = collect_status(cfg)
        models = []
        current = report["model"]
        for version in registry.versions(paths.state_dir):
            meta = registry.metrics(paths.state_dir, version)
            models.append({"version": version, "current": version == current, "created": meta.get("created"),
                           "metrics": meta.get("metrics", {}), "baseline": (meta.get("baseline") or {}).get("name"),
                           "baseline_metrics": (meta.get("baseline") or {}).get("metrics", {})})
        return render_template("index.html", cards=cards, quarantined=quarantined, report=report, models=models,
                               csrf=csrf, stamp=csv_stamp(paths.corrections), corrections=paths.corrections,
                               slow_motion=cfg.export.slow_motion, training_running=training.running(),
                               training_tail=training.tail())

    def outbox_file(video, name: str | None) -> Path:
        """A file the journal lists for this video, in its outbox folder; anything else is a 404."""
        outputs = video.outputs or {}
        if not outputs.get("outbox") or not name or name not in (outputs.get("clips") or []) + \
                [outputs.get("highlights")]:
            abort(404)
        path = (Path(outputs["outbox"]) / name).resolve()
        if not path.is_relative_to(paths.outbox.resolve()) or not path.is_file():
            abort(404)
        return path

    def send_video(video, name: str | None):
        path = playable(outbox_file(video, name), paths.state_dir / "previews")
        return send_file(path, mimetype="video/mp4", conditional=True)  # Range requests: seeking works

    @app.get("/video/<int:video_id>/clip/<int:number>")
    def clip(video_id: int, number: int):
        video = journal_video(video_id)
        clips = (video.outputs or {}).get("clips") or []
        return send_video(video, clips[number - 1] if 0 < number <= len(clips) else None)

    @app.get("/video/<int:video_id>/reel")
    def reel(video_id: int):
        video = journal_video(video_id)
        return send_video(video, (video.outputs or {}).get("highlights"))

    @app.post("/corrections")
    def correct():
        form = request.form
        try:
            video_id = int(form["video"])
            ranges = json.loads(form["ranges"])  # [[start, end, label], ...] in seconds of the original
            rows = []
            for start, end, label in ranges:
                start, end = float(start), float(end)
                if label not in ("dunk", "empty") or not 0 <= start < end:
                    raise ValueError(label)
                rows.append((start, end, label))
        except (KeyError, ValueError, TypeError):
            return jsonify(ok=False, message="a correction needs a video and ranges of [start, end, label]"), 400
        with journal() as j:
            video = j.get(video_id)
        if video is None or video.state is not State.DONE:
            return jsonify(ok=False, message="no processed video with that id"), 404
        name = csv_name(cfg, video)
        note = form.get("note", "review page")[:200]
        with csv_lock:
            if form.get("stamp") != csv_stamp(paths.corrections):
                return jsonify(ok=False, stale=True,
                               message=f"{paths.corrections} changed since this page was loaded (edited by hand?); "
                                       "nothing was written. Reload the page and try again."), 409
            try:
                text = paths.corrections.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = ""
            except UnicodeDecodeError:
                return jsonify(ok=False, message=f"{paths.corrections} is not UTF-8; save it as UTF-8 first"), 409
            new = add_rows(text, [[name, format_time(a), format_time(b), label, note] for a, b, label in rows])
            atomic_write_text(paths.corrections, new)
        log.info("review page: %s: %s", name, ", ".join(f"{format_time(a)}-{format_time(b)} {label}"
                                                           for a, b, label in rows))
        return jsonify(ok=True, stamp=csv_stamp(paths.corrections),
                       message=f"saved to {paths.corrections.name}: {len(rows)} row(s) for {name}")

    @app.post("/models/use")
    def use_model():
        version = request.form.get("version", "")
        if version not in registry.versions(paths.state_dir):
            abort(404)
        registry.set_current(paths.state_dir, version)
        return redirect("/#models", code=303)

    @app.post("/train")
    def train_now():
        training.start()  # a run already going is left to finish: the page shows its log either way
        return redirect("/#models", code=303)

    @app.get("/train/progress")
    def train_progress():
        return jsonify(running=training.running(), tail=training.tail())

    @app.post("/quarantine/<int:video_id>/retry")
    def retry(video_id: int):
        video = journal_video(video_id)
        if video.state is not State.FAILED or not video.location or not Path(video.location).is_file():
            abort(404)
        location = Path(video.location)
        try:
            back_to = paths.inbox / location.parent.relative_to(paths.quarantine)
        except ValueError:
            back_to = paths.inbox
        moved = move_without_overwrite(location, back_to)
        location.with_name(location.name + ".error.txt").unlink(missing_ok=True)  # our own note
        with journal() as j:
            j.moved(video.id, moved)
        log.info("review page: %s moved back to %s to be tried again", location.name, moved)
        return redirect("/#quarantine", code=303)

    @app.errorhandler(404)
    def not_found(_error):
        return make_response("not found\n", 404, {"Content-Type": "text/plain"})

    return app


def serve(cfg: Config, stop: threading.Event | None = None) -> None:
    """Serve the page until `stop` is set (the service) or forever (`dunkwatch review`)."""
    from waitress.server import create_server

    host, port = parse_listen(cfg.review.listen)
    token = None
    if not is_loopback(host):
        token = cfg.review.token or secrets.token_urlsafe(18)
        if not cfg.review.token:
            log.warning("review page on %s: open http://%s:%d/?token=%s (set review.token to keep one)",
                        host, host, port, token)
    server = create_server(create_app(cfg, token), host=host, port=port, threads=6)
    log.info("review page: http://%s:%d/%s", host if ":" not in host else f"[{host}]", port,
             "" if token is None else " (token needed)")
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), server.close()), name="review-stop", daemon=True).start()
    try:
        server.run()
    except OSError:
        if stop is None or not stop.is_set():
            raise
