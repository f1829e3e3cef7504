"""The review page's Flask views, thin over `ReviewService`: they read the request, call the
service and render its answer. Auth (a token off loopback) and CSRF are checked here, before any
view. serving.py serves them."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from pathlib import Path
from typing import Any, Callable, TypeVar

from flask import Flask, Response, abort, jsonify, make_response, redirect, render_template, request, send_file
from werkzeug.wrappers import Response as BaseResponse  # what flask.redirect returns

from dunkwatch.config import Config
from dunkwatch.review.cards import SessionFile
from dunkwatch.review.corrections_csv import Outcome, csv_stamp, parse_ranges
from dunkwatch.review.previews import playable
from dunkwatch.review.service import ReviewService
from dunkwatch.share_links import Refused, SharedKind, ShareKey

log = logging.getLogger(__name__)

SHARED_PREFIX = "/s/"  # share links: signed, served without the page's token


HTTP_STATUS = {Outcome.SAVED: 200, Outcome.NOT_FOUND: 404, Outcome.CONFLICT: 409}  # HTTP lives in the views only

Answer = Response | tuple[Response, int]  # a JSON answer, with its status when not 200
T = TypeVar("T")


def found(value: T | None) -> T:
    """The service's answer, or 404 where it found nothing (no path of a request reaches the disk)."""
    if value is None:
        abort(404)
    return value


class _Views:
    def __init__(self, cfg: Config, token: str | None) -> None:
        self.cfg, self.token = cfg, token
        self.service = ReviewService(cfg)
        self.csrf = secrets.token_urlsafe(24)  # in every page; a cross-site form cannot read it

    def guard(self) -> Response | None:
        if request.path.startswith(SHARED_PREFIX) and request.method == "GET":
            return None  # a share link carries its own signature: no token, and nothing else is served
        if self.token is not None:
            given = (
                request.args.get("token")
                or request.cookies.get("dunkwatch_token")
                or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            )
            if not given or not hmac.compare_digest(given, self.token):
                return Response(
                    "dunkwatch review: a token is needed on this address (see the service's log, "
                    "or review.token in the config): open /?token=...\n",
                    status=401,
                    mimetype="text/plain",
                )
        if request.method == "POST":
            origin = request.headers.get("Origin")
            if origin and origin.rstrip("/") != request.host_url.rstrip("/"):
                abort(403, "cross-site request refused")
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf", "")
            if not hmac.compare_digest(sent, self.csrf):
                abort(403, "missing or wrong form token: reload the page")
        return None

    def remember_token(self, response: Response) -> Response:
        if self.token is not None and request.args.get("token"):
            response.set_cookie("dunkwatch_token", self.token, httponly=True, samesite="Strict")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; media-src 'self'"
        return response

    def index(self) -> str:
        s, corrections = self.service, self.cfg.paths.corrections
        report = s.status()
        return render_template(
            "index.html",
            log=s.practice_log(),
            quarantined=s.quarantined(),
            report=report,
            courts=s.courts.cards(report.courts),
            models=s.models(),
            csrf=self.csrf,
            stamp=csv_stamp(corrections),
            corrections=corrections,
            slow_motion=self.cfg.export.slow_motion,
            training_running=s.training.running(),
            training_tail=s.training.tail(),
        )

    def _send_video(self, path: Path | None) -> Response:
        playable_path = playable(found(path), self.cfg.paths.state_dir / "previews")
        return send_file(playable_path, mimetype="video/mp4", conditional=True)  # Range requests: seeking works

    def clip(self, video_id: int, number: int) -> Response:
        return self._send_video(self.service.clip(video_id, number))

    def reel(self, video_id: int) -> Response:
        return self._send_video(self.service.reel(video_id))

    def poster(self, video_id: int, number: int) -> Response:
        return send_file(found(self.service.poster(video_id, number)), mimetype="image/jpeg", max_age=86400)

    def session_reel(self, session_id: str) -> Response:
        return self._send_video(self.service.session_reel(session_id))

    def session_makes(self, session_id: str) -> Response:
        return self._send_video(self.service.session_files(session_id).get(SessionFile.MAKES))

    def session_shot_map(self, session_id: str) -> Response:
        path = found(self.service.session_files(session_id).get(SessionFile.SHOT_MAP))
        return send_file(path, mimetype="image/png", max_age=0)

    def set_hoop(self, key: str) -> Answer:
        return self._draw_on_court(
            key,
            "hoop",
            self.service.courts.set_hoop,
            lambda _: "hoop saved; videos of this court from now on look for shots there",
        )

    def _draw_on_court(
        self, key: str, field: str, save: Callable[[str, Any], T | None], saved: Callable[[T], str]
    ) -> Answer:
        """A zone or hoop drawn on a court, from the form's JSON `field`; `saved(value)` says what it did."""
        try:
            value = save(key, json.loads(request.form.get(field, "")))
        except (ValueError, TypeError) as exc:  # ZoneError and HoopError are ValueErrors
            return jsonify(ok=False, message=f"{'ignore zones' if field == 'zones' else field} not saved: {exc}"), 400
        return jsonify(ok=True, message=f"{saved(found(value))} (`dunkwatch process` redoes an old one)")

    def share(self) -> Answer:
        kind, ident = request.form.get("kind", ""), request.form.get("item", "")
        token = self.service.share(SharedKind(kind), ident, request.host) if kind in ("clip", "session") else None
        if token is None:
            return jsonify(ok=False, message="nothing to share there"), 404
        return jsonify(
            ok=True,
            url=f"{request.host_url}s/{token}",
            days=self.cfg.review.share_days,
            message=f"a read-only link for {self.cfg.review.share_days} day(s): anyone who has it can "
            "watch this, and nothing else",
        )

    def rotate_share_key(self) -> Response:
        ShareKey(self.cfg.paths.state_dir).rotate()
        return jsonify(ok=True, message="share key rotated: every link given out so far is refused")

    def _shared(self, token: str) -> Path:
        item = ShareKey(self.cfg.paths.state_dir).check(token, request.host)
        if isinstance(item, Refused):
            abort(item.value)
        return found(self.service.shared_file(item.kind, item.ident))

    def shared_page(self, token: str) -> str:
        self._shared(token)
        return render_template("shared.html", video=f"{SHARED_PREFIX}{token}/video")

    def shared_video(self, token: str) -> Response:
        return self._send_video(self._shared(token))

    def court_image(self, key: str) -> Response:
        return Response(found(self.service.courts.court_image(key)), mimetype="image/png")

    def set_zones(self, key: str) -> Answer:
        return self._draw_on_court(
            key,
            "zones",
            self.service.courts.set_zones,
            lambda zones: f"{len(zones)} ignore zone(s) saved; videos from now on ignore them",
        )

    def correct(self) -> Answer:
        form = request.form
        try:
            video_id, rows = int(form["video"]), parse_ranges(json.loads(form["ranges"]))
        except (KeyError, ValueError, TypeError):
            return jsonify(ok=False, message="a correction needs a video and ranges of [start, end, label]"), 400
        result = self.service.correct(video_id, rows, form.get("note", "review page"), form.get("stamp"))
        if result.outcome is not Outcome.SAVED:
            extra = {"stale": True} if result.stale else {}
            return jsonify(ok=False, message=result.message, **extra), HTTP_STATUS[result.outcome]
        return jsonify(ok=True, stamp=result.stamp, message=result.message)

    def pin(self, video_id: int) -> Answer:
        pinned = request.form.get("pinned") == "1"
        if not self.service.pin(video_id, pinned):
            return jsonify(ok=False, message="no processed video with an original in the archive has that id"), 404
        kept = "stays, whatever the archive's limits" if pinned else "follows the archive's limits again"
        return jsonify(ok=True, message=f"its original {kept}")

    def use_model(self) -> BaseResponse:
        if not self.service.use_model(request.form.get("version", "")):
            abort(404)
        return redirect("/#models", code=303)

    def train_now(self) -> BaseResponse:
        self.service.training.start()  # a run already going is left to finish: the page shows its log either way
        return redirect("/#models", code=303)

    def train_progress(self) -> Response:
        return jsonify(running=self.service.training.running(), tail=self.service.training.tail())

    def retry(self, video_id: int) -> BaseResponse:
        found(self.service.retry(video_id))
        return redirect("/#quarantine", code=303)


def create_app(cfg: Config, token: str | None = None) -> Flask:
    """The Flask app. `token`: required on every request (off loopback); None: no token."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    views = _Views(cfg, token)
    app.before_request(views.guard)
    app.after_request(views.remember_token)
    for rule, view, methods in (
        ("/", views.index, ["GET"]),
        ("/video/<int:video_id>/clip/<int:number>", views.clip, ["GET"]),
        ("/video/<int:video_id>/reel", views.reel, ["GET"]),
        ("/video/<int:video_id>/poster/<int:number>", views.poster, ["GET"]),
        ("/session/<session_id>/reel", views.session_reel, ["GET"]),
        ("/session/<session_id>/makes", views.session_makes, ["GET"]),
        ("/session/<session_id>/shotmap", views.session_shot_map, ["GET"]),
        ("/court/<key>/hoop", views.set_hoop, ["POST"]),
        ("/share", views.share, ["POST"]),
        ("/court/<key>/image", views.court_image, ["GET"]),
        ("/court/<key>/zones", views.set_zones, ["POST"]),
        ("/share/rotate", views.rotate_share_key, ["POST"]),
        (SHARED_PREFIX + "<token>", views.shared_page, ["GET"]),
        (SHARED_PREFIX + "<token>/video", views.shared_video, ["GET"]),
        ("/corrections", views.correct, ["POST"]),
        ("/video/<int:video_id>/pin", views.pin, ["POST"]),
        ("/models/use", views.use_model, ["POST"]),
        ("/train", views.train_now, ["POST"]),
        ("/train/progress", views.train_progress, ["GET"]),
        ("/quarantine/<int:video_id>/retry", views.retry, ["POST"]),
    ):
        app.add_url_rule(rule, view.__name__, view, methods=methods)
    app.register_error_handler(404, lambda _error: make_response("not found\n", 404, {"Content-Type": "text/plain"}))
    return app
