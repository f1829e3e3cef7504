"""Command line: subcommands, one line on stderr for every DunkwatchError, exit code 2."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from dunkwatch import __version__
from dunkwatch.errors import DunkwatchError

log = logging.getLogger("dunkwatch")


def _progress_bar(name: str):
    """A progress callback drawing on a TTY only; logs stay plain lines for journald."""
    if not sys.stderr.isatty():
        return None, lambda: None
    state = {"last": -1}

    def update(fraction: float) -> None:
        pct = int(fraction * 100)
        if pct != state["last"]:
            state["last"] = pct
            filled = pct // 4
            sys.stderr.write(f"\r{name[:30]:30} [{'#' * filled}{'.' * (25 - filled)}] {pct:3d}%")
            sys.stderr.flush()

    def finish() -> None:
        if state["last"] >= 0:
            sys.stderr.write("\n")

    return update, finish


def _cmd_process(args, cfg) -> int:
    from dunkwatch.app import make_scorer
    from dunkwatch.pipeline.worker import process_video

    scorer = make_scorer(cfg, args.scorer)
    outbox = Path(args.out) if args.out else cfg.paths.outbox
    results, failures = [], 0
    for video in args.videos:
        update, finish = _progress_bar(Path(video).name)
        try:
            results.append(process_video(Path(video), cfg, scorer, outbox, clips=not args.no_clips,
                                         progress=update).sidecar)
        except DunkwatchError as exc:
            failures += 1
            print(f"dunkwatch: {exc}", file=sys.stderr)
        finally:
            finish()
    if args.json and (results or len(args.videos) > 1):
        print(json.dumps(results[0] if len(args.videos) == 1 else results, indent=2))
    return 2 if failures else 0


def _cmd_check(args, cfg) -> int:
    print(f"{cfg.source or 'embedded defaults'}: configuration is valid")
    return 0


def _cmd_run(args, cfg) -> int:
    from dunkwatch.app import Daemon

    return Daemon(cfg, args.scorer, once=args.once).run()


def _cmd_status(args, cfg) -> int:
    from dunkwatch.status import collect_status, format_status

    report = collect_status(cfg)
    print(json.dumps(report, indent=2) if args.json else format_status(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dunkwatch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"dunkwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, with tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p):
        p.add_argument("--config", help="config file (default: ./config.toml, else built-in defaults)")
        return p

    p = with_config(sub.add_parser("process", help="turn videos into clips of the moments a player is in view"))
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("--scorer", choices=("auto", "motion", "cnn"), help="default: score.scorer from the config")
    p.add_argument("--out", help="output folder (default: paths.outbox)")
    p.add_argument("--json", action="store_true", help="print the sidecar object(s) to stdout")
    p.add_argument("--no-clips", action="store_true", help="only score and segment; write no clips")
    p.set_defaults(func=_cmd_process)

    p = with_config(sub.add_parser("check", help="validate a config file"))
    p.set_defaults(func=_cmd_check)

    p = with_config(sub.add_parser("run", help="watch the inbox and process each new video (the service)"))
    p.add_argument("--scorer", choices=("auto", "motion", "cnn"), help="default: score.scorer from the config")
    p.add_argument("--once", action="store_true", help="process what is in the inbox now, then exit")
    p.set_defaults(func=_cmd_run)

    p = with_config(sub.add_parser("status", help="what the service has done, is doing and has quarantined"))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from dunkwatch import config

    try:
        cfg = config.load(args.config)
        return args.func(args, cfg)
    except DunkwatchError as exc:
        log.debug("details", exc_info=True)
        print(f"dunkwatch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
