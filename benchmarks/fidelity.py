"""Fidelity of a miniworld model: does it draw what a plan asks for, where it asks for it?

    python benchmarks/fidelity.py                                # the trained miniworld model
    python benchmarks/fidelity.py --model tiny-random --quick    # smoke run (chance-level figures)
    python benchmarks/fidelity.py --json                         # one JSON object

Plans are built directly as EditPlan objects (no planner), so the figures measure the model, on
held-out scenes (seeds from --seed). Every figure is also computed on the ground-truth renders of
the same scenes, the "ceiling": what a perfect model scores under these metrics (rings, rectangles
and triangles fill their blob ellipses only partly, so the mIoU ceiling is below 1).

* generation from a layout (--n scenes of 0-5 objects, plan = caption + every object's blob):
  blob mIoU (each requested object segmented by its colour vs its blob ellipse), colour accuracy
  (the dominant object colour in each blob, grey-ish background pixels ignored), shape accuracy
  (each object's shape named by the template that fits its pixels best near its blob:
  metrics.classify_shape), count accuracy (how many object colours cover >= 16 px at 64x64 = how
  many objects were asked for); blob_miou_vs_ceiling is the model's mIoU over the ceiling's.
  Colour and shape are scored on the objects the scene shows (at least half of the silhouette
  not painted over by a later object in the ground truth), the count on scenes that show all
  their objects: a hidden object has no colour a picture could show (the ground truth itself
  got 3-5% of colours "wrong" before). ``*_all`` figures score everything, as before;
* edit locality (n/2 scenes): one object added to a rendered scene in a new blob (op add, default
  alpha); PSNR of the pixels outside the blob grown by 2 px (100 dB = identical), and whether the
  object appeared (colour accuracy in its blob);
* inversion (n/4 scenes): inversion of a ground-truth render under its caption at guidance 1 by
  the method edits use (invert.DEFAULT_INVERSION, fixed-point refined) and by plain DDIM,
  regenerated at guidance 1, PSNR vs the original; ceiling: the encode/decode round trip alone;
  the cost is the refined inversion's time over plain DDIM's;
* StyleAligned (max(1, n/16) groups of 4 prompts sharing one style): the same prompts, which name
  the style in text, rendered with a shared [style] reference (an empty scene in that style) and
  without. Style consistency: fraction of pairs in a group whose backgrounds are classified to the
  same (palette, texture); style match: fraction whose background is classified as the style the
  prompt names; text adherence: colour accuracy of the requested objects. Gain =
  consistency(with) - consistency(without), drop = adherence(without) - adherence(with), points;
* audio instruction (n/4 scenes): a tone whose pitch encodes colour c (data.tone, as a wav) is a
  [sub] added in a blob whose description names size and shape but not the colour; right when the
  dominant colour in the blob is c. Null, with the reason, where the render cannot take audio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from anypix.models.miniworld.data import (
    COLOURS,
    MiniObject,
    Scene,
    random_object,
    random_scene,
    random_style,
    tone,
    write_wav,
)
from anypix.models.miniworld.data import render as draw_scene
from anypix.models.miniworld.metrics import (
    BLOB_MARGIN,
    LayoutScore,
    background_mask,
    classify_background,
    dilate,
    dominant_colour,
    psnr,
    score_layout,
    shown_objects,
    style_consistency,
)
from anypix.plan import Blob, EditPlan, Knobs, Op
from benchmarks.figures_ops import ops_figures  # every op end to end, verify off and on
from benchmarks.figures_prior import prior_figures  # reference/audio adds with vs without prior
from benchmarks.figures_seecoder import seecoder_figures  # an image as the only prompt

SIDE = 64
GROUP_SIZE = 4  # prompts per StyleAligned group
FIGURES = ("layout", "edit", "inversion", "style", "audio", "ops", "prior", "seecoder")
# Seed offsets from --seed, so each figure draws its own held-out scenes.
OFFSETS = {"layout": 0, "edit": 10_000, "inversion": 20_000, "style": 30_000, "audio": 40_000,
           "ops": 50_000, "prior": 60_000, "seecoder": 70_000}  # fmt: skip
Figures = dict[str, Any]


class Progress:
    """``stage: done/total (seconds)`` on stderr, about eight times a stage."""

    def __init__(self, stage: str, total: int) -> None:
        self.stage, self.total, self.done = stage, total, 0
        self.every, self.started = max(1, total // 8), time.perf_counter()

    def step(self) -> None:
        self.done += 1
        if self.done % self.every == 0 or self.done == self.total:
            spent = time.perf_counter() - self.started
            print(f"{self.stage}: {self.done}/{self.total} ({spent:.0f} s)", file=sys.stderr)


@dataclass
class Bench:
    components: Any
    steps: int
    guidance: float | None  # None: the preset's default

    def knobs(self, seed: int) -> Knobs:
        return Knobs(steps=self.steps, guidance=self.guidance, seed=seed, size=(SIDE, SIDE))

    def draw(self, plan: EditPlan, assets: dict[str, Any]) -> np.ndarray:
        from anypix.tools.render import render

        return np.asarray(render(plan, assets, self.components).images[0].convert("RGB"))


def _mean(values: Sequence[float | bool]) -> float | None:
    return float(mean(values)) if values else None


def summarise_layouts(scores: Sequence[LayoutScore]) -> Figures:
    """Colour and shape over the objects the scenes show, the count over scenes that show every
    object (metrics.LayoutScore.shown); the ``*_all`` figures score every requested object and
    scene, as the benchmark did before 2026-12-03."""
    return {
        "blob_miou": _mean([iou for s in scores for iou in s.ious]),
        "color_accuracy": _mean([right for s in scores for right in s.scored(s.colours_right)]),
        "shape_accuracy": _mean([right for s in scores for right in s.scored(s.shapes_right)]),
        "count_accuracy": _mean([s.count_right for s in scores if s.count_scored]),
        "color_accuracy_all": _mean([right for s in scores for right in s.colours_right]),
        "shape_accuracy_all": _mean([right for s in scores for right in s.shapes_right]),
        "count_accuracy_all": _mean([s.count_right for s in scores]),
        "objects_shown": _mean([shown for s in scores for shown in s.shown]),
    }


def new_object(scene: Scene, rng: np.random.Generator, max_overlap: float = 0.1) -> MiniObject:
    """An object of a colour the scene lacks, in a blob that mostly avoids the scene's blobs."""
    free = [c for c in COLOURS if c not in {o.colour for o in scene.objects}]
    taken = np.zeros((SIDE, SIDE), dtype=bool)
    for obj in scene.objects:
        taken |= obj.blob.mask(SIDE, SIDE)
    for _ in range(20):
        candidate = random_object(rng, colour=str(rng.choice(free)))
        mask = candidate.blob.mask(SIDE, SIDE)
        if (mask & taken).sum() <= max_overlap * mask.sum():
            break
    return candidate


# -- the figures ----------------------------------------------------------------------------------


def layout_figures(bench: Bench, seeds: Sequence[int]) -> tuple[Figures, Figures]:
    model, truth, progress = [], [], Progress("layout", len(seeds))
    for seed in seeds:
        scene = random_scene(seed)
        plan = EditPlan(gen=scene.caption(), blobs=[o.blob for o in scene.objects],
                        ops=[Op(op="generate")], knobs=bench.knobs(seed))  # fmt: skip
        shown = shown_objects(scene, SIDE)
        model.append(score_layout(bench.draw(plan, {}), scene.objects, shown))
        truth.append(score_layout(draw_scene(scene, SIDE)[0], scene.objects, shown))
        progress.step()
    figures, ceiling = summarise_layouts(model), summarise_layouts(truth)
    if figures["blob_miou"] is not None and ceiling["blob_miou"]:
        figures["blob_miou_vs_ceiling"] = figures["blob_miou"] / ceiling["blob_miou"]
    return figures, ceiling


def edit_figures(bench: Bench, seeds: Sequence[int]) -> tuple[Figures, Figures]:
    from PIL import Image

    scores: dict[str, list[Any]] = {"psnr": [], "added": [], "psnr_gt": [], "added_gt": []}
    progress = Progress("edit", len(seeds))
    for seed in seeds:
        scene = random_scene(seed, max_objects=3)
        added = new_object(scene, np.random.default_rng(seed + 1))
        base = draw_scene(scene, SIDE)[0]
        plan = EditPlan(base="scene", blobs=[added.blob], ops=[Op(op="add", target=added.sentence())],
                        knobs=bench.knobs(seed))  # fmt: skip
        inside = added.blob.mask(SIDE, SIDE)
        outside = ~dilate(inside, BLOB_MARGIN)
        edited = bench.draw(plan, {"scene": Image.fromarray(base)})
        truth = draw_scene(Scene(seed, scene.style, (*scene.objects, added)), SIDE)[0]
        for suffix, image in (("", edited), ("_gt", truth)):
            scores["psnr" + suffix].append(psnr(image, base, outside))
            scores["added" + suffix].append(dominant_colour(image, inside) == added.colour)
        progress.step()
    return (
        {"edit_locality_psnr": _mean(scores["psnr"]), "edit_added_accuracy": _mean(scores["added"])},
        {"edit_locality_psnr": _mean(scores["psnr_gt"]),
         "edit_added_accuracy": _mean(scores["added_gt"])},
    )  # fmt: skip


def inversion_figures(bench: Bench, seeds: Sequence[int]) -> tuple[Figures, Figures]:
    """Inversion + regeneration PSNR with the method edits use and with plain DDIM, and what each
    inversion costs (seconds; the ratio is the refined method's price)."""
    import torch
    from PIL import Image

    from anypix.models.diffusion import decode_latents, denoise, encode_image, encode_prompts
    from anypix.tools.invert import DDIM, DEFAULT_INVERSION, ddim_invert, ddim_scheduler

    components, size = bench.components, (SIDE, SIDE)
    methods = {"": DEFAULT_INVERSION, "_ddim": DDIM}
    rebuilt: dict[str, list[float]] = {suffix: [] for suffix in methods}
    seconds: dict[str, list[float]] = {suffix: [] for suffix in methods}
    round_trip, progress = [], Progress("inversion", len(seeds))
    for seed in seeds:
        scene = random_scene(seed)
        original = draw_scene(scene, SIDE)[0]
        with torch.inference_mode():
            clean = encode_image(components, Image.fromarray(original), size)
            cond = encode_prompts(components, [scene.caption()], do_cfg=False, size=size)
            latents = [clean]
            for suffix, method in methods.items():
                started = time.perf_counter()
                trajectory = ddim_invert(components, clean, cond, steps=bench.steps,
                                         guidance=1.0, method=method)  # fmt: skip
                seconds[suffix].append(time.perf_counter() - started)
                scheduler = ddim_scheduler(components, bench.steps)
                latents.append(denoise(components, trajectory.noisiest, cond, scheduler, 1.0))
            images = decode_latents(components, torch.cat(latents))
        round_trip.append(psnr(np.asarray(images[0].convert("RGB")), original))
        for suffix, image in zip(methods, images[1:], strict=True):
            rebuilt[suffix].append(psnr(np.asarray(image.convert("RGB")), original))
        progress.step()
    figures: Figures = {"inversion_method": DEFAULT_INVERSION.name,
                        "inversion_cost_vs_ddim": sum(seconds[""]) / sum(seconds["_ddim"])}  # fmt: skip
    for suffix in methods:
        figures[f"inversion_psnr{suffix}"] = _mean(rebuilt[suffix])
        figures[f"inversion_seconds{suffix}"] = _mean(seconds[suffix])
    ceiling = {"inversion_psnr": _mean(round_trip), "inversion_psnr_ddim": _mean(round_trip)}
    return figures, ceiling


def _style_group(bench: Bench, seeds: Sequence[int]) -> dict[str, list[Any]]:
    """Classified backgrounds and per-object colour hits of one group, with / without sharing /
    ground truth."""
    from PIL import Image

    style = random_style(np.random.default_rng(seeds[0]))
    assets = {"style": Image.fromarray(draw_scene(Scene(seeds[0], style), SIDE)[0])}
    found: dict[str, list[Any]] = {f"{k}_{v}": [] for k in ("style", "match", "hits")
                                   for v in ("with", "without", "gt")}  # fmt: skip
    for seed in seeds:
        objects = random_scene(seed, min_objects=1, max_objects=3).objects
        scene, blobs = Scene(seed, style, objects), [o.blob for o in objects]
        plain = {"gen": scene.caption(), "blobs": blobs, "ops": [Op(op="generate")],
                 "knobs": bench.knobs(seed)}  # fmt: skip
        images = {
            "with": bench.draw(EditPlan(**plain, style_ref="style"), assets),
            "without": bench.draw(EditPlan(**plain), {}),
            "gt": draw_scene(scene, SIDE)[0],
        }
        for variant, image in images.items():
            named = classify_background(image, background_mask(image, blobs))
            found[f"style_{variant}"].append(named)
            found[f"match_{variant}"].append(named == (style.palette, style.texture))
            found[f"hits_{variant}"].extend(score_layout(image, objects).colours_right)
    return found


def style_figures(bench: Bench, groups: Sequence[Sequence[int]]) -> tuple[Figures, Figures]:
    variants = ("with", "without", "gt")
    consistency: dict[str, list[float]] = {v: [] for v in variants}
    matched: dict[str, list[bool]] = {v: [] for v in variants}
    adherence: dict[str, list[bool]] = {v: [] for v in variants}
    progress = Progress("style", len(groups))
    for seeds in groups:
        found = _style_group(bench, seeds)
        for variant in variants:
            consistency[variant].append(style_consistency(found[f"style_{variant}"]))
            matched[variant].extend(found[f"match_{variant}"])
            adherence[variant].extend(found[f"hits_{variant}"])
        progress.step()
    c, m, a = ({k: float(mean(v)) for k, v in d.items()} for d in (consistency, matched, adherence))
    model = {
        "style_consistency_with": c["with"], "style_consistency_without": c["without"],
        "style_consistency_gain": 100 * (c["with"] - c["without"]),
        "style_match_with": m["with"], "style_match_without": m["without"],
        "style_adherence_with": a["with"], "style_adherence_without": a["without"],
        "style_adherence_drop": 100 * (a["without"] - a["with"]),
    }  # fmt: skip
    truth = {f"style_{kind}_{variant}": figures["gt"] for kind, figures in
             (("consistency", c), ("match", m), ("adherence", a)) for variant in variants[:2]}  # fmt: skip
    return model, truth


def audio_figures(bench: Bench, seeds: Sequence[int]) -> tuple[Figures, Figures]:
    from PIL import Image

    from anypix.errors import AssetError, ModelUnavailableError, NotAvailableError

    hits, truth, progress = [], [], Progress("audio", len(seeds))
    with tempfile.TemporaryDirectory(prefix="anypix-fidelity-") as folder:
        for seed in seeds:
            scene = random_scene(seed, max_objects=2)
            added = new_object(scene, np.random.default_rng(seed + 1))
            sound = Path(folder) / f"tone-{seed}.wav"
            write_wav(str(sound), tone(added.colour, added.shape, seed=seed))
            # As the planner writes "add [tone] to [scene] <where>": the blob and the op name
            # the sound, so the colour can only come from the sound itself.
            blob = Blob(**{**added.blob.model_dump(), "description": "tone", "label": "tone"})
            plan = EditPlan(base="scene", subs=["tone"], gen="with tone", blobs=[blob],
                            knobs=bench.knobs(seed),
                            ops=[Op(op="add", target="tone", ref="tone")])  # fmt: skip
            base = draw_scene(scene, SIDE)[0]
            try:
                image = bench.draw(plan, {"scene": Image.fromarray(base), "tone": sound})
            except (NotAvailableError, AssetError, ModelUnavailableError) as exc:
                return {"audio_accuracy": None, "audio_note": str(exc)}, {"audio_accuracy": None}
            inside = added.blob.mask(SIDE, SIDE)
            hits.append(dominant_colour(image, inside) == added.colour)
            composed = draw_scene(Scene(seed, scene.style, (*scene.objects, added)), SIDE)[0]
            truth.append(dominant_colour(composed, inside) == added.colour)
            progress.step()
    return {"audio_accuracy": _mean(hits)}, {"audio_accuracy": _mean(truth)}


# -- report -----------------------------------------------------------------------------------------

Check = Callable[[float], bool]
# (key, label, unit, target text, pass check); a row without a check has no target.
ROWS: list[tuple[str, str, str, str, Check | None]] = [
    ("blob_miou", "layout: blob mIoU", "", ">= 0.6", lambda v: v >= 0.6),
    ("blob_miou_vs_ceiling", "layout: blob mIoU / its ceiling", "", ">= 0.9", lambda v: v >= 0.9),
    ("color_accuracy", "layout: colour accuracy", "", ">= 0.98", lambda v: v >= 0.98),
    ("shape_accuracy", "layout: shape accuracy", "", ">= 0.9", lambda v: v >= 0.9),
    ("count_accuracy", "layout: count accuracy", "", ">= 0.95", lambda v: v >= 0.95),
    ("color_accuracy_all", "  colour, hidden objects too", "", "", None),
    ("shape_accuracy_all", "  shape, hidden objects too", "", "", None),
    ("count_accuracy_all", "  count, scenes with hidden objects too", "", "", None),
    ("objects_shown", "  share of objects the scenes show", "", "", None),
    ("edit_locality_psnr", "edit: PSNR outside the blob (dB)", "dB", ">= 30", lambda v: v >= 30),
    ("edit_added_accuracy", "edit: added object appeared", "", "", None),
    ("inversion_psnr", "inversion + regeneration PSNR (dB)", "dB", ">= 35", lambda v: v >= 35),
    ("inversion_psnr_ddim", "  the same, plain DDIM inversion (dB)", "dB", "", None),
    ("inversion_cost_vs_ddim", "  inversion time / plain DDIM's", "x", "", None),
    ("style_consistency_with", "style: consistency, shared reference", "", "", None),
    ("style_consistency_without", "style: consistency, text only", "", "", None),
    ("style_consistency_gain", "style: consistency gain (points)", "pt", "> 0", lambda v: v > 0),
    ("style_match_with", "style: named style drawn, shared ref", "", "", None),
    ("style_match_without", "style: named style drawn, text only", "", "", None),
    ("style_adherence_with", "style: text adherence, shared reference", "", "", None),
    ("style_adherence_without", "style: text adherence, text only", "", "", None),
    ("style_adherence_drop", "style: adherence drop (points)", "pt", "<= 5", lambda v: v <= 5),
    ("audio_accuracy", "audio [sub]: colour in the blob", "", "", None),
]


def _shown(value: Any, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if unit else f"{value:.3f}"


def print_table(results: dict[str, Any]) -> None:
    print(f"fidelity: {results['model']} on {results['device']}, {results['steps']} steps, "
          f"guidance {results['guidance']:g}, n={results['n']}, seeds from {results['seed']}, "
          f"{results['seconds']:.0f} s")  # fmt: skip
    print(f"| {'metric':<40} | {'value':>7} | {'target':>7} | {'ceiling':>7} | {'pass':>4} |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 6}|")
    for key, label, unit, target, _ in ROWS:
        passed = results["pass"].get(key)
        verdict = "" if passed is None else ("yes" if passed else "no")
        value, ceiling = _shown(results.get(key), unit), _shown(results["ceiling"].get(key), unit)
        print(f"| {label:<40} | {value:>7} | {target:>7} | {ceiling:>7} | {verdict:>4} |")
    for note in ("inversion_method", "audio_note", "skipped"):
        if results.get(note):
            print(f"{note.replace('_', ' ')}: {results[note]}")


def run_figures(bench: Bench, args: argparse.Namespace, only: Sequence[str]) -> dict[str, Any]:
    def seeds(figure: str, count: int) -> list[int]:
        start = args.seed + OFFSETS[figure]
        return list(range(start, start + count))

    n = args.n
    jobs: dict[str, Callable[[], tuple[Figures, Figures]]] = {
        "layout": lambda: layout_figures(bench, seeds("layout", n)),
        "edit": lambda: edit_figures(bench, seeds("edit", max(1, n // 2))),
        "inversion": lambda: inversion_figures(bench, seeds("inversion", max(1, n // 4))),
        "style": lambda: style_figures(bench, [
            seeds("style", GROUP_SIZE * max(1, n // 16))[i : i + GROUP_SIZE]
            for i in range(0, GROUP_SIZE * max(1, n // 16), GROUP_SIZE)
        ]),
        "audio": lambda: audio_figures(bench, seeds("audio", max(1, n // 4))),
        "ops": lambda: ops_figures(bench, seeds("ops", max(1, 3 * n // 8))),  # 24 at n=64
        "prior": lambda: prior_figures(bench, seeds("prior", max(1, n // 4))),
        "seecoder": lambda: seecoder_figures(bench, seeds("seecoder", max(1, n // 4))),
    }  # fmt: skip
    results: dict[str, Any] = {key: None for key, *_ in ROWS}
    results.update(ceiling={}, stage_seconds={})
    for figure in only:
        started = time.perf_counter()
        model, truth = jobs[figure]()
        results.update(model)
        results["ceiling"].update(truth)
        results["stage_seconds"][figure] = round(time.perf_counter() - started, 1)
    results["pass"] = {
        key: None if check is None or results[key] is None else bool(check(results[key]))
        for key, _, _, _, check in ROWS
    }
    skipped = [f for f in FIGURES if f not in only]
    results["skipped"] = ", ".join(skipped) if skipped else None
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--model", default="miniworld", help="diffusion preset (default miniworld)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: settings.device)")
    parser.add_argument("--n", type=int, default=64, help="layout scenes; the other figures use "
                        "n/2 edits, n/4 inversions, n/4 sounds, max(1, n/16) style groups of 4")  # fmt: skip
    parser.add_argument("--steps", type=int, default=20, help="denoising (and inversion) steps")
    parser.add_argument("--guidance", type=float, default=None,
                        help="CFG scale for renders (default: the preset's)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=100_000, help="first held-out scene seed")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--only", default=",".join(FIGURES),
                        help=f"comma-separated subset of {','.join(FIGURES)}")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="n=8, 8 steps: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n, args.steps = 8, 8
    if args.n < 1 or args.steps < 1:
        parser.error(f"--n ({args.n}) and --steps ({args.steps}) must be at least 1")
    unknown = sorted(set(args.only.split(",")) - set(FIGURES))
    if unknown:
        parser.error(f"--only: unknown figure(s) {', '.join(unknown)}; choose from {FIGURES}")
    return args


def main() -> None:
    args = parse_args()
    only = [f for f in FIGURES if f in args.only.split(",")]
    started = time.perf_counter()
    import torch

    from anypix.errors import AnypixError
    from anypix.models.diffusion import load_components

    torch.set_num_threads(args.threads)
    try:
        components = load_components(args.model, device=args.device)
    except AnypixError as exc:
        raise SystemExit(f"fidelity: {exc}") from None
    bench = Bench(components, args.steps, args.guidance)
    results = run_figures(bench, args, only)
    results.update(model=args.model, device=str(components.device), n=args.n, steps=args.steps,
                   guidance=args.guidance or components.default_guidance, seed=args.seed,
                   seconds=round(time.perf_counter() - started, 1))  # fmt: skip
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
