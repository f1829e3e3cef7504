"""The review page's server: waitress on `review.listen`, with a token off loopback; `dunkwatch
review` alone, or with `[review] enabled = true` in a thread of the service."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading

from dunkwatch.config import Config, parse_listen
from dunkwatch.review.web import create_app
from dunkwatch.service.heap import limit_malloc_arenas

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(cfg: Config, stop: threading.Event | None = None) -> None:
    """Serve the page until `stop` is set (the service) or forever (`dunkwatch review`)."""
    from waitress.server import create_server

    host, port = parse_listen(cfg.review.listen)
    token = None
    if not is_loopback(host):
        token = cfg.review.token or secrets.token_urlsafe(18)
        if not cfg.review.token:
            log.warning(
                "review page on %s: open http://%s:%d/?token=%s (set review.token to keep one)", host, host, port, token
            )
    limit_malloc_arenas()  # `dunkwatch review` alone: before waitress starts its threads (see heap.py)
    server = create_server(create_app(cfg, token), host=host, port=port, threads=6)
    log.info(
        "review page: http://%s:%d/%s",
        host if ":" not in host else f"[{host}]",
        port,
        "" if token is None else " (token needed)",
    )
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), server.close()), name="review-stop", daemon=True).start()
    try:
        server.run()
    except OSError:
        if stop is None or not stop.is_set():
            raise
