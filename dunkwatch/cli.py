"""Command line: subcommands, one line on stderr for every DunkwatchError, exit code 2."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dunkwatch import __version__
from dunkwatch.errors import DunkwatchError

if TYPE_CHECKING:
    from dunkwatch.config import Config
    from dunkwatch.models.registry import RecordedFigures

    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]  # not subscriptable at run time

log = logging.getLogger("dunkwatch")


def _progress_bar(name: str) -> tuple[Callable[[float], None] | None, Callable[[], None]]:
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


def _cmd_process(args: argparse.Namespace, cfg: Config) -> int:
    from dunkwatch.hoop import HoopError, parse_hoop
    from dunkwatch.pipeline.cutting.editor_timelines import after_processing
    from dunkwatch.pipeline.process import process_video
    from dunkwatch.pipeline.scoring.scorer_choice import ScorerPerVideo, pick_scorer, scene_memory
    from dunkwatch.zones import ZoneError, parse_zone

    try:
        zones = tuple(parse_zone(text) for text in args.ignore) if args.ignore else None
    except ZoneError as exc:
        raise DunkwatchError(f"--ignore: {exc}") from None
    try:
        hoop = parse_hoop(args.hoop) if args.hoop else None
    except HoopError as exc:
        raise DunkwatchError(f"--hoop: {exc}") from None
    memory = scene_memory(cfg.paths.state_dir, cfg.motion)  # the service's: a court it has seen empty helps here too
    pick_scorer(cfg.pipeline, args.scorer, memory)  # a scorer that cannot be had fails before any video
    scorers = ScorerPerVideo(cfg.pipeline, args.scorer, memory)
    outbox = Path(args.out) if args.out else cfg.paths.outbox
    results, failures = [], 0
    for video in args.videos:
        update, finish = _progress_bar(Path(video).name)
        try:
            processed = process_video(
                Path(video),
                cfg.pipeline,
                scorers.for_video(Path(video)),
                outbox,
                clips=not args.no_clips,
                progress=update,
                memory=memory,
                zones=zones,
                hoop=hoop,
            )
            timelines = () if args.no_clips else cfg.export.timelines  # --no-clips: the sidecar and the score timeline
            if problem := after_processing(processed.out_dir, processed.sidecar, Path(video), timelines):
                print(f"dunkwatch: {video}: {problem}", file=sys.stderr)
            results.append(processed.sidecar)
        except DunkwatchError as exc:
            failures += 1
            print(f"dunkwatch: {exc}", file=sys.stderr)
        finally:
            finish()
    if args.json and (results or len(args.videos) > 1):
        dicts = [s.as_dict() for s in results]
        print(json.dumps(dicts[0] if len(args.videos) == 1 else dicts, indent=2))
    return 2 if failures else 0


def _cmd_check(args: argparse.Namespace, cfg: Config) -> int:
    from dunkwatch.service.schedule import next_runs

    print(f"{cfg.source or 'embedded defaults'}: configuration is valid")
    runs = ", ".join(when.strftime("%Y-%m-%d %H:%M") for when in next_runs(cfg.training.schedule))
    print(f"training.schedule {cfg.training.schedule!r}: next runs {runs} (local time)")
    from dunkwatch.pipeline.scoring.person import require_detector

    require_detector(cfg.motion, cfg.segment)  # the service would refuse to start without it: say so now
    if not cfg.paths.corrections.exists():
        return 0
    from dunkwatch.learn.catalogue import load_corrections
    from dunkwatch.store import Store

    store = Store(cfg.paths.state_dir)
    try:
        rows, errors = load_corrections(cfg.paths, store)
    finally:
        store.close()
    for error in errors:
        print(f"{cfg.paths.corrections}: {error}")
    print(f"{cfg.paths.corrections}: {len(rows)} valid row(s), {len(errors)} error(s)")
    return 2 if errors else 0


def _cmd_train(args: argparse.Namespace, cfg: Config) -> int:
    from dunkwatch.learn.train import run_training

    verbose = 1 if sys.stdout.isatty() else 2  # a progress bar on a terminal, one line per epoch in a log
    result = run_training(cfg.learning, force=args.force, verbose=verbose)
    print(result.summary())
    if result.version:
        print(f"promoted {result.version}; the service picks it up before its next video")
    return 0


def _cells(figures: RecordedFigures, short: bool = False) -> str:
    def num(value: float | None) -> str:
        return f"{value:.3f}" if isinstance(value, float) else "-"

    ev = f"{figures.events_found}/{figures.events}" if figures.events is not None else "-"
    false_cell = str(figures.false_segments) if figures.false_segments is not None else "-"
    if short:
        return f"{num(figures.f1):>6} {ev:>7} {false_cell:>5}"
    return f"{num(figures.f1):>6} {num(figures.precision):>6} {num(figures.recall):>6} {ev:>7} {false_cell:>5}"


def _cmd_models(args: argparse.Namespace, cfg: Config) -> int:
    from dunkwatch.models import registry

    state = cfg.paths.state_dir
    if args.action == "use":
        if not args.version:
            raise DunkwatchError("dunkwatch models use: name a version, e.g. dunkwatch models use v0002")
        registry.set_current(state, args.version)
        print(f"current model is now {args.version}; the service picks it up before its next video")
        return 0
    listing = registry.listing(state)
    if args.json:
        print(json.dumps([m.as_dict() for m in listing], indent=2))
    elif not listing:
        print(f"no models yet in {registry.models_dir(state)}")
    else:
        # Each version beside what it replaced, both judged on the same validation videos.
        print(
            f"{'':2}{'version':8} {'created':25} {'F1':>6} {'prec':>6} {'recall':>6} {'events':>7} {'false':>5}"
            f"   replaced: {'scoring':13} {'F1':>6} {'events':>7} {'false':>5}  trained on"
        )
        for m in listing:
            print(
                f"{'*' if m.current else ' ':2}{m.version:8} {m.created or '-':25} "
                f"{_cells(m.metrics)}   replaced: {m.baseline or '-':13} {_cells(m.baseline_metrics, short=True)}  "
                f"{m.trained_on or '-'}"
            )
    return 0


def _cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    from dunkwatch.service.daemon import Daemon

    page = None
    if cfg.review.enabled and not args.once:
        from dunkwatch.review import serve

        page = functools.partial(serve, cfg)  # the page in a thread of the service, until it stops
    return Daemon(cfg, args.scorer, once=args.once, page=page).run()


def _cmd_review(args: argparse.Namespace, cfg: Config) -> int:
    import dataclasses

    from dunkwatch.config import parse_listen
    from dunkwatch.review import serve

    if args.rotate_share_key:
        from dunkwatch.share_links import ShareKey

        ShareKey(cfg.paths.state_dir).rotate()
        print("share key rotated: every share link given out so far is refused")
        return 0
    if args.listen:
        parse_listen(args.listen)  # a clear message for a typo, before anything starts
        cfg = dataclasses.replace(cfg, review=dataclasses.replace(cfg.review, listen=args.listen))
    serve(cfg)
    return 0


def _cmd_status(args: argparse.Namespace, cfg: Config) -> int:
    from dunkwatch.service.status import collect_status, format_status

    report = collect_status(cfg.paths, cfg.archive)
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_status(report))
    return 0


def _cmd_notify(args: argparse.Namespace, cfg: Config) -> int:
    if not cfg.notify.urls:
        raise DunkwatchError(
            f"config key notify.urls is empty in {cfg.source or 'the embedded defaults'}: "
            'add an Apprise URL, e.g. urls = ["ntfy://ntfy.sh/my-court"]'
        )
    if not args.test:
        from dunkwatch.store import Store

        store = Store(cfg.paths.state_dir)
        try:
            waiting = store.due_notices()
        finally:
            store.close()
        print(f"{len(waiting)} notification(s) due and not sent yet; `dunkwatch notify --test` sends a test message")
        return 0
    from dunkwatch.service.notifier import apprise_sender

    if apprise_sender(cfg.notify.urls)(
        "dunkwatch: test", "If you can read this, dunkwatch can tell you when your clips are ready."
    ):
        print(f"sent a test message to {len(cfg.notify.urls)} URL(s)")
        return 0
    print("dunkwatch: the test message could not be sent; check notify.urls and the network", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dunkwatch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"dunkwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, with tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    _video_commands(sub)
    _service_commands(sub)
    return parser


def _with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--config", metavar="F", help="config file (default: ./config.toml, else built-in defaults)")
    return p


def _video_commands(sub: Subcommands) -> None:
    """process, train, models, check: work on videos and models now."""
    with_config = _with_config
    p = with_config(sub.add_parser("process", help="turn videos into clips of the moments a player is in view"))
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("--scorer", choices=("auto", "motion", "cnn"), help="default: score.scorer from the config")
    p.add_argument("--out", metavar="DIR", help="output folder (default: paths.outbox)")
    p.add_argument("--json", action="store_true", help="print the sidecar object(s) to stdout")
    p.add_argument("--no-clips", action="store_true", help="only score and segment; write no clips")
    p.add_argument(
        "--hoop",
        metavar="X,Y,W,H",
        help="the rim and its net as a box relative to the frame, e.g. 0.62,0.32,0.05,0.07 (default: the "
        "hoop remembered with the court, else found from the ball's arcs)",
    )
    p.add_argument(
        "--ignore",
        action="append",
        metavar="ZONE",
        help='a polygon to grey out, "x1,y1 x2,y2 x3,y3 ..." relative to the frame; repeatable '
        "(default: the zones drawn on the court's remembered scene)",
    )
    p.set_defaults(func=_cmd_process)

    p = with_config(sub.add_parser("train", help="retrain now from corrections and predictions; promote if better"))
    p.add_argument("--force", action="store_true", help="train even when the labels have not changed")
    p.set_defaults(func=_cmd_train)

    p = with_config(sub.add_parser("models", help="list model versions, or roll back with `models use vNNNN`"))
    p.add_argument("action", nargs="?", choices=("list", "use"), default="list")
    p.add_argument("version", nargs="?", help="with `use`: the version to make current")
    p.add_argument("--json", action="store_true", help="machine-readable listing")
    p.set_defaults(func=_cmd_models)

    p = with_config(sub.add_parser("check", help="validate a config file and the corrections CSV"))
    p.set_defaults(func=_cmd_check)


def _service_commands(sub: Subcommands) -> None:
    """run, review, notify, status: the service and what it shows."""
    with_config = _with_config

    p = with_config(sub.add_parser("run", help="watch the inbox and process each new video (the service)"))
    p.add_argument("--scorer", choices=("auto", "motion", "cnn"), help="default: score.scorer from the config")
    p.add_argument("--once", action="store_true", help="process what is in the inbox now, then exit")
    p.set_defaults(func=_cmd_run)

    p = with_config(sub.add_parser("review", help="the review page: watch clips, fix labels, see models"))
    p.add_argument("--listen", metavar="HOST:PORT", help="host:port (default: review.listen, 127.0.0.1:8765)")
    p.add_argument("--rotate-share-key", action="store_true", help="end every share link given out so far, then exit")
    p.set_defaults(func=_cmd_review)

    p = with_config(sub.add_parser("notify", help="notifications: send a test message, or count those waiting"))
    p.add_argument("--test", action="store_true", help="send one test message to every notify.urls")
    p.set_defaults(func=_cmd_notify)

    p = with_config(sub.add_parser("status", help="what the service has done, is doing and has quarantined"))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_status)


def synopsis(parser: argparse.ArgumentParser | None = None) -> str:
    """One line per subcommand, as the README's Commands block shows them (a test keeps it in step)."""
    parser = parser or build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))

    def label(action: argparse.Action) -> str:
        if action.choices:
            return "|".join(action.choices)
        metavar = action.metavar or action.dest.upper()
        return metavar if isinstance(metavar, str) else " ".join(metavar)  # a tuple: one name per value

    def word(action: argparse.Action) -> str:
        if action.option_strings:
            flag = action.option_strings[-1]
            if action.nargs == 0:
                return f"[{flag}]"
            return f"[{flag} {label(action)}]"
        name = label(action)
        shapes = {"+": f"{name}...", "?": f"[{name}]", "*": f"[{name}...]"}
        return shapes.get(action.nargs, name) if isinstance(action.nargs, str) else name

    lines = []
    for name, sub in subparsers.choices.items():
        positionals = [a for a in sub._actions if not a.option_strings]
        options = [a for a in sub._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
        lines.append(" ".join([f"dunkwatch {name}", *map(word, positionals), *map(word, options)]))
    globals_ = [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
    lines.append(" ".join(["dunkwatch", *map(word, globals_), "COMMAND ..."]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
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
