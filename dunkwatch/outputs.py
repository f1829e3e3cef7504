"""What processing one video leaves behind, as typed records, each with one JSON round trip.

`Sidecar` is `<stem>.json` in the video's outbox folder: written by the pipeline, read by the
service, the review page and training. `VideoOutputs` is the journal's summary of the same
outputs (which folder, which files), kept on the video's row. Nothing else reads their keys.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path

from dunkwatch.zones import Zones


class ScorerKind(str, Enum):
    """What scored a video's frames; stored as the value, in sidecars, the journal and the CSVs."""

    MOTION = "motion"
    CNN = "cnn"

    def __str__(self) -> str:  # the value in logs and f-strings, not ScorerKind.CNN
        return self.value


@dataclass(frozen=True)
class SidecarSegment:
    start: float  # the action, seconds into the original
    end: float
    clip_start: float  # the clip, with its pre- and post-roll
    clip_end: float
    peak: float  # highest raw score inside the action
    recorded_start: str | None = None  # wall-clock time of `start`, when the video says when it was filmed


@dataclass(frozen=True)
class SidecarDispute:
    start: float  # where the motion model and the cnn disagreed, seconds into the original
    end: float
    model_in_view: bool  # True: the cnn saw a player there and motion did not; False: the other way


@dataclass(frozen=True)
class SidecarAttempt:
    start: float  # the gather, seconds into the original
    end: float  # the ball settled: through the net or bouncing away
    rim: float  # when the ball reached the rim
    release: float | None  # when it left the hands, where the ball was seen then
    result: str  # "make", "miss" or "unknown"
    kind: str  # "shot" or "dunk"
    clip: str | None  # its clip's file name in the same folder
    shooter: tuple[float, float] | None = None  # where it was shot from, relative (x, y) of the frame
    clip_start: float | None = None  # its clip's bounds, with the pre- and post-roll
    clip_end: float | None = None


@dataclass(frozen=True)
class Sidecar:
    video: str  # the original's path when it was processed
    sha256: str
    duration: float
    width: int
    height: int
    rotation: int
    scorer: ScorerKind
    model: str | None  # registry version for the cnn, None for motion
    sample_fps: float
    threshold: float
    scenes: tuple[str, ...]  # the scene memory's keys this video's empty courts went to
    recorded_at: str | None
    segments: tuple[SidecarSegment, ...]
    clips: tuple[str, ...]  # file names in the same folder, one per segment
    highlights: str | None
    timeline: str | None
    fps: float | None = None  # the original's frame rate, for editor timelines (None: an older sidecar)
    ignore_zones: Zones = ()  # polygons (relative x, y) greyed out of every frame before scoring
    hoop: tuple[float, float, float, float] | None = None  # relative x, y, w, h of the rim and net; None: no hoop
    hoop_source: str | None = None  # "user" (page, --hoop) or "found" (the ball's arcs)
    attempts: tuple[SidecarAttempt, ...] = ()  # shots at the hoop, in time order
    results_by: str | None = None  # the hoop model version that judged make or miss; None: the rules
    nobody_seen: tuple[SidecarSegment, ...] = ()  # motion in which the person detector saw nobody: no clip
    court: str | None = None  # the remembered court (scene key) its first frame showed, which picks the model
    disputed: tuple[SidecarDispute, ...] = ()  # the gated cnn's video: where motion and the cnn disagreed
    original_deleted: str | None = None  # when archive retention deleted the original (ISO); null: archived

    @property
    def makes(self) -> int:
        return sum(1 for a in self.attempts if a.result == "make")

    def files(self) -> set[str]:
        """The video files it names (clips and the reel)."""
        return {*self.clips, *([self.highlights] if self.highlights else [])}

    def cuts(self) -> list[tuple[SidecarSegment, str | None, SidecarAttempt | None]]:
        """Each clip's span, file name and attempt (None: a presence clip), in clip order: a stretch
        holding attempts was cut per attempt, the others whole (pipeline/shots/cuts.py)."""
        kept: list[tuple[SidecarSegment, SidecarAttempt | None]] = [
            (s, None) for s in self.segments if not any(s.clip_start <= a.rim <= s.clip_end for a in self.attempts)
        ]
        shots: list[tuple[SidecarSegment, SidecarAttempt | None]] = [
            (
                SidecarSegment(
                    a.start,
                    a.end,
                    a.clip_start if a.clip_start is not None else a.start,
                    a.clip_end if a.clip_end is not None else a.end,
                    0.0,
                ),
                a,
            )
            for a in self.attempts
        ]
        ordered = sorted(kept + shots, key=lambda item: (item[0].start, item[0].end))
        return [
            (seg, self.clips[i] if i < len(self.clips) else None, attempt) for i, (seg, attempt) in enumerate(ordered)
        ]

    def spans(self) -> list[tuple[float, float]]:
        return [(s.start, s.end) for s in self.segments]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["scorer"] = self.scorer.value
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Sidecar":
        """Raises ValueError when the text is not a sidecar."""
        try:
            data = json.loads(text)
            data["scorer"] = ScorerKind(data["scorer"])
            data["scenes"] = tuple(data.get("scenes") or ())
            data["segments"] = tuple(SidecarSegment(**s) for s in data["segments"])
            data["clips"] = tuple(data["clips"])
            data["nobody_seen"] = tuple(SidecarSegment(**s) for s in data.get("nobody_seen") or ())
            data["disputed"] = tuple(SidecarDispute(**d) for d in data.get("disputed") or ())
            data["ignore_zones"] = tuple(tuple(tuple(p) for p in z) for z in data.get("ignore_zones") or ())
            data["hoop"] = tuple(float(v) for v in data["hoop"]) if data.get("hoop") else None
            data["attempts"] = tuple(
                SidecarAttempt(**{**a, "shooter": tuple(a["shooter"]) if a.get("shooter") else None})
                for a in data.get("attempts") or ()
            )
            return cls(**{f.name: data.get(f.name) for f in fields(cls)})
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a dunkwatch sidecar: {exc}") from None

    @classmethod
    def read(cls, path: Path) -> "Sidecar | None":
        """The sidecar at `path`, or None when there is none or it cannot be read."""
        try:
            return cls.from_json(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


@dataclass(frozen=True)
class ShotNote:
    """What the practice log keeps of one attempt, in the journal: its clip, result and shooter."""

    clip: str | None
    result: str  # "make", "miss" or "unknown"
    shooter: tuple[float, float] | None = None


@dataclass(frozen=True)
class VideoOutputs:
    """The journal's record of one finished video's outputs, with what the practice sessions need
    of its sidecar (so neither a session refresh nor the page opens a sidecar for them)."""

    folder: Path | None = None  # its outbox folder; None when nothing was written (skipped)
    segments: int = 0
    clips: tuple[str, ...] = ()
    highlights: str | None = None
    scorer: ScorerKind | None = None
    model: str | None = None
    duration: float = 0.0
    skipped: str | None = None  # why it was archived without clips (phone clutter)
    recorded_at: str | None = None  # the sidecar's: when filming began
    spans: tuple[tuple[float, float], ...] = ()  # the actions
    shots: tuple[ShotNote, ...] = ()  # the attempts
    scene: str | None = None  # the first remembered court its empty frames went to
    aspect: float = 16 / 9  # width / height as displayed
    summarised: bool = False  # the five fields above are filled (rows written before them: read the sidecar)

    @classmethod
    def of(cls, sidecar: Sidecar, folder: Path) -> "VideoOutputs":
        return cls(
            Path(folder),
            len(sidecar.segments),
            sidecar.clips,
            sidecar.highlights,
            sidecar.scorer,
            sidecar.model,
            sidecar.duration,
            recorded_at=sidecar.recorded_at,
            spans=tuple(sidecar.spans()),
            shots=tuple(ShotNote(a.clip, a.result, a.shooter) for a in sidecar.attempts),
            scene=sidecar.scenes[0] if sidecar.scenes else None,
            aspect=sidecar.width / max(sidecar.height, 1),
            summarised=True,
        )

    @property
    def makes(self) -> int:
        return sum(1 for s in self.shots if s.result == "make")

    def files(self) -> list[str]:
        """The video files the journal lists for it: its clips, then its reel."""
        return [*self.clips, *([self.highlights] if self.highlights else [])]

    def to_json(self) -> str:
        return json.dumps(
            {
                "outbox": str(self.folder) if self.folder else None,
                "segments": self.segments,
                "clips": list(self.clips),
                "highlights": self.highlights,
                "scorer": self.scorer.value if self.scorer else None,
                "model": self.model,
                "duration": self.duration,
                "skipped": self.skipped,
                **(
                    {
                        "recorded_at": self.recorded_at,
                        "spans": [list(x) for x in self.spans],
                        "shots": [asdict(x) for x in self.shots],
                        "scene": self.scene,
                        "aspect": self.aspect,
                    }
                    if self.summarised
                    else {}
                ),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "VideoOutputs":
        data = json.loads(text)
        return cls(
            folder=Path(data["outbox"]) if data.get("outbox") else None,
            segments=int(data.get("segments") or 0),
            clips=tuple(data.get("clips") or ()),
            highlights=data.get("highlights"),
            scorer=ScorerKind(data["scorer"]) if data.get("scorer") else None,
            model=data.get("model"),
            duration=float(data.get("duration") or 0.0),
            skipped=data.get("skipped"),
            recorded_at=data.get("recorded_at"),
            spans=tuple(tuple(x) for x in data.get("spans") or ()),
            shots=tuple(
                ShotNote(x["clip"], x["result"], tuple(x["shooter"]) if x.get("shooter") else None)
                for x in data.get("shots") or ()
            ),
            scene=data.get("scene"),
            aspect=float(data.get("aspect") or 16 / 9),
            summarised="spans" in data,
        )
