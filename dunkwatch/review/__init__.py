"""The review page: watch clips, correct a label with one click, see the service and the models.

`service.py` does the work without Flask, over `cards.py`, `corrections_csv.py`,
`training_run.py`, `courts.py` and `worth_a_look.py`; `web.py` holds the thin Flask views over
it, and `serving.py` serves them with waitress. Flask is imported only when the page is served.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from dunkwatch.config import Config

if TYPE_CHECKING:
    from flask import Flask


def create_app(cfg: Config, token: str | None = None) -> Flask:
    from dunkwatch.review.web import create_app as create

    return create(cfg, token)


def serve(cfg: Config, stop: threading.Event | None = None) -> None:
    from dunkwatch.review.serving import serve as run

    run(cfg, stop)
