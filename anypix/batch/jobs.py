"""What travels between the driver and a render worker: a job (a plan and the bytes of the assets
it reads) and its outcome (PNG images and provenance, or the error the render raised).

Workers never see the driver's files or database: the driver reads every asset a plan names into
the job, and turns the outcome back into a :class:`~anypix.records.Render` (or raises the error
again), so a worker can run on another machine of a Ray cluster.
"""

from __future__ import annotations

import importlib
import io
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.errors import AnypixError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from anypix.plan import EditPlan
    from anypix.records import Render


@dataclass(frozen=True)
class RenderJob:
    """One render for a worker: the plan and, for every asset it reads, (file name, bytes)."""

    plan: EditPlan
    assets: dict[str, tuple[str, bytes]]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def build(cls, plan: EditPlan, assets: Mapping[str, Path | str]) -> RenderJob:
        files = {name: (Path(path).name, Path(path).read_bytes()) for name, path in assets.items()}
        return cls(plan, files)

    def write_assets(self, folder: Path) -> dict[str, Path]:
        """The assets as files under ``folder`` (the renderer reads paths); one sub-folder per
        name, so two assets with the same file name cannot overwrite each other."""
        paths: dict[str, Path] = {}
        for name, (file_name, data) in self.assets.items():
            path = folder / name / (file_name or name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            paths[name] = path
        return paths


@dataclass(frozen=True)
class RemoteError:
    """An exception raised in a worker, in a form that crosses processes and machines: anypix's
    own errors keep their class and fields; anything else is a bug and keeps its traceback."""

    module: str
    qualname: str
    message: str
    fields: dict[str, Any]
    traceback: str

    @classmethod
    def of(cls, exc: BaseException) -> RemoteError:
        kind = type(exc)
        fields = dict(vars(exc)) if isinstance(exc, AnypixError) else {}
        text = "".join(traceback.format_exception(exc))
        return cls(kind.__module__, kind.__qualname__, str(exc), fields, text)

    def rebuild(self) -> BaseException:
        """The error to raise on the driver. An anypix error is rebuilt without calling its
        ``__init__`` (whose arguments differ per class) from the fields it had in the worker."""
        kind = _anypix_error_class(self.module, self.qualname)
        if kind is None:
            return RemoteRenderBug(f"{self.qualname}: {self.message}\n{self.traceback}")
        error = kind.__new__(kind)
        Exception.__init__(error, self.fields.get("message", self.message))
        error.__dict__.update(self.fields)
        return error


class RemoteRenderBug(RuntimeError):
    """A bug in anypix that a worker hit; the message carries the worker's traceback."""


def _anypix_error_class(module: str, qualname: str) -> type[AnypixError] | None:
    if module != "anypix" and not module.startswith("anypix."):
        return None  # only our own classes are looked up by name, never arbitrary modules
    try:
        found = getattr(importlib.import_module(module), qualname, None)
    except ImportError:
        return None
    return found if isinstance(found, type) and issubclass(found, AnypixError) else None


@dataclass(frozen=True)
class JobOutcome:
    """What a worker sends back: PNG bytes and provenance, or the error; and who rendered it."""

    job_id: str
    worker: str
    images: list[bytes] = field(default_factory=list)
    provenance: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: RemoteError | None = None
    steps: tuple[int, int] | None = None  # the last progress the render reported

    def render(self) -> Render:
        """The :class:`Render` the renderer contract returns; raises the worker's error."""
        from PIL import Image

        from anypix.records import Provenance, Render

        if self.error is not None:
            raise self.error.rebuild()
        assert self.provenance is not None
        images = []
        for data in self.images:
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                images.append(opened.copy())
        provenance = Provenance.model_validate(self.provenance)
        return Render(images=images, provenance=provenance, timings=dict(self.timings))


def run_job(
    renderer: Callable[..., Render],
    job: RenderJob,
    folder: Path,
    worker: str,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> JobOutcome:
    """Render ``job`` with ``renderer`` in a worker, its assets written under ``folder``; every
    exception becomes part of the outcome (PNG is lossless, so the driver stores the very pixels
    the worker rendered)."""
    steps: tuple[int, int] | None = None

    def report(done: int, total: int) -> None:
        nonlocal steps
        steps = (done, total)
        if progress is not None:
            progress(done, total)

    try:
        render = renderer(job.plan, job.write_assets(folder), progress=report, cancel=cancel)
    except Exception as exc:
        return JobOutcome(job.id, worker, error=RemoteError.of(exc), steps=steps)
    images = []
    for image in render.images:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        images.append(buffer.getvalue())
    provenance = render.provenance.model_dump(mode="json")
    return JobOutcome(job.id, worker, images, provenance, dict(render.timings), steps=steps)
