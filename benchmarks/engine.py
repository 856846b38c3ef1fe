"""Cost of the diffusion engine's techniques relative to plain generation, on the tiny SD-shaped
model (CPU) — medians of interleaved pairs, so drift and other load hit both sides alike.

    python benchmarks/engine.py [--json] [--steps 20] [--repeats 5] [--threads 2] [--quick]
    python benchmarks/engine.py --only inversion,cached          # rerun some parts

* warm_edit_overhead_ratio: a whole warm turn (``Session.edit``: plan with the fast planner,
  render, store the image and the turn) / the bare ``render()`` of the plan it made, same model;
* inversion_cost_ratio: render of an edit (VAE encode, inversion at guidance 1 by the default
  method, regeneration with CFG) / render of a plain generation with the same steps and CFG
  (inversion cache off);
* cached_reedit_ratio: the same edit again, its inversion cached in memory / plain generation;
* style_batch4_cost_ratio: StyleAligned batch of 4 (defaults) / the same batch without sharing;
  also the literal method (every row shares, norms normalise a concatenated copy: what the
  reference implementation computes) for comparison, and a breakdown of where the cost goes;
* blob_layer_overhead_ratio: generation with BlobGEN layers added and a 2-blob plan / plain;
* blob_locality_ratio: mean pixel change inside the edited blob / outside (training-free regional
  grounding on the tiny model, blob plan vs the same plan without the blob);
* FLOP ratios of one UNet call at SD 1.5 and SDXL size (meta device): a DDIM inversion step,
  StyleAligned (ours and literal) and blob layers, so real cost is told from CPU overhead.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPTS = ["a watercolor painting of a fox", "a castle", "a bicycle", "a bowl of fruit"]


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def paired(
    first: Callable[[], Any], second: Callable[[], Any], repeats: int
) -> tuple[float, float, float]:
    """(median ratio first/second, median first s, median second s), alternating the order."""
    first(), second()  # warm-up: allocator, lazy imports, caches
    ratios, a_times, b_times = [], [], []
    for index in range(repeats):
        order = (first, second) if index % 2 == 0 else (second, first)
        spent = {}
        for fn in order:
            start = clock()
            fn()
            spent[fn] = clock() - start
        a_times.append(spent[first])
        b_times.append(spent[second])
        ratios.append(spent[first] / spent[second])
    return statistics.median(ratios), statistics.median(a_times), statistics.median(b_times)


def _plan(*lines: str) -> Any:
    from anypix.plan import EditPlan

    return EditPlan.from_tokens("\n".join(lines))


def _image(side: int = 64) -> Any:
    import numpy as np
    from PIL import Image

    ys, xs = np.mgrid[0:side, 0:side]
    rgb = np.stack([xs * 255 // side, ys * 255 // side, (xs + ys) % 64 * 4], -1)
    return Image.fromarray(rgb.astype("uint8"))


def inversion_cost(engine: Any, steps: int, repeats: int) -> dict[str, float]:
    from anypix.tools.inversion_cache import using
    from anypix.tools.render import render

    knobs = f"[knobs] steps={steps} guidance=7.5 seed=1 alpha=0.7 size=64x64"
    edit = _plan("[base] photo", "[gen] a photo of a fox", "[op] variation", knobs)
    plain = _plan("[gen] a photo of a fox", "[op] generate", knobs)
    assets = {"photo": _image()}
    with using(None):  # every edit inverts afresh: the cost of a first edit
        ratio, a, b = paired(
            lambda: render(edit, assets, engine), lambda: render(plain, {}, engine), repeats
        )
    return {"inversion_cost_ratio": ratio, "inversion_edit_s": a, "inversion_plain_s": b}


def cached_reedit_cost(engine: Any, steps: int, repeats: int) -> dict[str, float]:
    """A second edit of the same [base] (its inversion cached in memory, as in a warm session)
    against a plain generation with the same steps and CFG."""
    from anypix.tools.inversion_cache import InversionCache, using
    from anypix.tools.render import render

    knobs = f"[knobs] steps={steps} guidance=7.5 seed=1 alpha=0.7 size=64x64"
    edit = _plan("[base] photo", "[gen] a photo of a fox", "[op] variation", knobs)
    plain = _plan("[gen] a photo of a fox", "[op] generate", knobs)
    assets = {"photo": _image()}
    with using(InversionCache(None)):  # paired's warm-up is the first edit, which inverts
        ratio, a, b = paired(
            lambda: render(edit, assets, engine), lambda: render(plain, {}, engine), repeats
        )
    return {"cached_reedit_ratio": ratio, "cached_reedit_s": a, "cached_reedit_plain_s": b}


def warm_edit_overhead(steps: int, repeats: int) -> dict[str, Any]:
    """A whole warm turn (plan with the fast planner, render, store the image and the turn via
    ``Session.edit``) against the bare ``render()`` of the plan it made, same loaded model."""
    import tempfile

    from anypix.config import Settings
    from anypix.knobs import EditOptions
    from anypix.studio import Studio
    from anypix.tools.render import render

    data_dir = Path(tempfile.mkdtemp(prefix="anypix-bench-"))
    settings = Settings(model="tiny-random", device="cpu", llm="fast", data_dir=data_dir,
                        model_paths={})  # fmt: skip
    options = EditOptions(seed=1, steps=steps, guidance=7.5, size=(64, 64))
    instruction = "draw a photo of a fox"
    with Studio(settings=settings) as studio:
        session = studio.session("bench")
        turn = session.edit(instruction, options=options)  # loads the model: the cold part
        plan = _plan(turn.renders[0].provenance["plan_tokens"])
        components = studio.renderer.load()  # type: ignore[attr-defined]
        ratio, a, b = paired(
            lambda: session.edit(instruction, options=options),
            lambda: render(plan, {}, components),
            repeats,
        )
    return {"warm_edit_overhead_ratio": ratio, "warm_edit_s": a, "warm_edit_render_s": b,
            "warm_edit_plan": plan.tokens()}  # fmt: skip


# -- StyleAligned ---------------------------------------------------------------------------------


class _ConcatNorm:
    """The literal shared norm (what the reference implementation computes): normalise
    ``cat([x, x_ref], dim=-2)`` and keep the first half. Installed by swapping modules."""

    def __init__(self, norm: Any, groups: int) -> None:
        import torch

        self.norm, self.groups = norm, groups

        class Wrapper(torch.nn.Module):
            def forward(inner, x: Any) -> Any:
                per_half = x.shape[0] // groups
                ref = x.unflatten(0, (groups, per_half))[:, :1].expand(-1, per_half, *x.shape[1:])
                joined = torch.cat([x, ref.flatten(0, 1)], dim=-2)
                return norm(joined)[..., : x.shape[-2], :]

        self.module = Wrapper()


@contextmanager
def literal_style_aligned(unet: Any, do_cfg: bool = True) -> Iterator[None]:
    """The method read literally: every row (references too) attends to [own; reference] keys and
    is AdaIN'd, and GroupNorm/LayerNorm normalise a concatenated copy."""
    import torch
    import torch.nn.functional as F

    groups = 2 if do_cfg else 1

    class Literal:
        def __call__(self, attn: Any, hidden: Any, encoder_hidden_states: Any = None,
                     attention_mask: Any = None, **_: Any) -> Any:  # fmt: skip
            batch = hidden.shape[0]
            per_half = batch // groups
            heads = lambda x: x.unflatten(-1, (attn.heads, -1)).transpose(1, 2)  # noqa: E731
            q, k, v = heads(attn.to_q(hidden)), heads(attn.to_k(hidden)), heads(attn.to_v(hidden))

            def first(x: Any) -> Any:  # row 0 of each guidance half, repeated over the half
                head = x.unflatten(0, (groups, per_half))[:, :1]
                return head.expand(-1, per_half, *x.shape[1:]).flatten(0, 1)

            def adain(x: Any) -> Any:
                mean, std = x.mean(-2, keepdim=True), (x.var(-2, keepdim=True) + 1e-5).sqrt()
                return (x - mean) / std * first(std) + first(mean)

            q, k = adain(q), adain(k)
            keys, values = torch.cat([k, first(k)], -2), torch.cat([v, first(v)], -2)
            out = F.scaled_dot_product_attention(q, keys, values).transpose(1, 2).flatten(2)
            return attn.to_out[1](attn.to_out[0](out))

    original = dict(unet.attn_processors)
    unet.set_attn_processor(
        {n: Literal() if n.endswith("attn1.processor") else p for n, p in original.items()}
    )
    swapped = []
    for parent in list(unet.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (torch.nn.GroupNorm, torch.nn.LayerNorm)):
                setattr(parent, name, _ConcatNorm(child, groups).module)
                swapped.append((parent, name, child))
    try:
        yield
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)
        unet.set_attn_processor(dict(original))


def style_cost(engine: Any, steps: int, repeats: int) -> dict[str, float]:
    import torch

    from anypix.models.attention import StyleAlignedOptions
    from anypix.models.diffusion import denoise, encode_prompts, make_scheduler
    from anypix.tools.style import generate_style_batch

    def batch(options: Any) -> Callable[[], Any]:
        return lambda: generate_style_batch(engine, PROMPTS, steps=steps, guidance=7.5, seed=1,
                                            size=(64, 64), options=options)  # fmt: skip

    def literal() -> Any:
        cond = encode_prompts(engine, PROMPTS, do_cfg=True)
        scheduler = make_scheduler("ddim", engine.scheduler.config)
        scheduler.set_timesteps(steps)
        latents = torch.randn(4, 4, 32, 32, generator=torch.Generator().manual_seed(1))
        with literal_style_aligned(engine.unet):
            return denoise(engine, latents, cond, scheduler, 7.5)

    plain = batch(None)
    results: dict[str, float] = {}
    ratio, a, b = paired(batch(StyleAlignedOptions()), plain, repeats)
    results.update(style_batch4_cost_ratio=ratio, style_batch4_s=a, plain_batch4_s=b)
    results["style_batch4_literal_cost_ratio"] = paired(literal, plain, repeats)[0]
    no_norm = StyleAlignedOptions(share_group_norm=False)
    results["style_batch4_no_norm_ratio"] = paired(batch(no_norm), plain, repeats)[0]
    only_adain = StyleAlignedOptions(share_group_norm=False, share_attention=False)
    results["style_batch4_adain_only_ratio"] = paired(batch(only_adain), plain, repeats)[0]
    return results


SD15_UNET = {"cross_attention_dim": 768}  # UNet2DConditionModel's defaults are SD 1.5's
REAL_SIZES = {"sd15": (SD15_UNET, 64), "sdxl": (None, 128)}  # config, latent side (512^2, 1024^2)


def technique_flops() -> dict[str, float]:
    """FLOP ratios of one UNet call at SD 1.5 (512^2) and SDXL (1024^2) size, on the meta device
    (exact counts, no memory): blob layers with 2 blobs / plain (batch 2, CFG); StyleAligned
    batch 4 (ours, and the literal method) / plain batch 4 (CFG: 8 rows); and a DDIM inversion
    step (1 row, guidance 1) / a CFG step (2 rows). Real sizes tell what a technique costs from
    what the tiny model's small heads cost a CPU."""
    import gpu

    results: dict[str, float] = {}
    for name, (config, latent) in REAL_SIZES.items():
        unet_config = config if config is not None else gpu.SDXL_UNET
        for key, ratio in _flop_ratios(unet_config, latent).items():
            results[f"{key}_flop_ratio_{name}"] = ratio
    return results


def _flop_ratios(unet_config: dict[str, Any], latent: int) -> dict[str, float]:
    from contextlib import nullcontext

    import torch
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    from anypix.models.attention import style_aligned
    from anypix.models.blob import BlobBatch, BlobLayerConfig, add_blob_layers

    width = unet_config["cross_attention_dim"]
    sdxl = "projection_class_embeddings_input_dim" in unet_config
    with torch.device("meta"):
        unet = UNet2DConditionModel(**unet_config).eval()

    def call(rows: int, context: Any = None) -> int:
        with torch.device("meta"):
            sample, text = torch.randn(rows, 4, latent, latent), torch.randn(rows, 77, width)
            added = {"text_embeds": torch.randn(rows, 1280), "time_ids": torch.randn(rows, 6)}
        with context or nullcontext(), FlopCounterMode(display=False) as counter:
            unet(sample, 500, encoder_hidden_states=text,
                 added_cond_kwargs=added if sdxl else None)  # fmt: skip
        return counter.get_total_flops()

    plain2, plain8 = call(2), call(8)
    ratios = {
        "inversion_step": call(1) / plain2,
        "style": call(8, style_aligned(unet)) / plain8,
        "style_literal": call(8, literal_style_aligned(unet)) / plain8,
    }
    blobs = _plan("[gen] a fox under the moon", "[op] generate", *BLOBS).blobs
    with torch.device("meta"):
        grounding = add_blob_layers(unet, BlobLayerConfig(text_dim=width, embed_dim=width))
        tokens = torch.randn(len(blobs), 77, width)
    mask = torch.ones(len(blobs), 77, dtype=torch.bool)
    batch = BlobBatch.from_blobs(blobs, tokens, mask, 64, 64).for_batch(2, cfg=True)
    ratios["blob"] = call(2, grounding.conditioned(batch, cfg=True)) / plain2
    return ratios


# -- blobs (engine B's grounding) -------------------------------------------------------------------

BLOBS = (
    '[blob] fox {major-radius: 14px; minor-radius: 9px; cx: 20px; cy: 40px; angle: 30} "a red fox"',
    '[blob] moon {major-radius: 8px; minor-radius: 8px; cx: 48px; cy: 14px; angle: 0} "a full moon"',
)


def blob_figures(engine: Any, steps: int, repeats: int) -> dict[str, Any]:
    import dataclasses

    import numpy as np

    from anypix.tools.render import render

    try:
        from anypix.models.blob import BlobLayerConfig, add_blob_layers
        from anypix.tools.layout import grounding  # noqa: F401
    except ImportError as exc:
        return {
            "blob_layer_overhead_ratio": None,
            "blob_locality_ratio": None,
            "blob_note": str(exc),
        }
    knobs = f"[knobs] steps={steps} guidance=7.5 seed=1 size=64x64"
    head = ("[gen] a fox under the moon", "[op] generate")
    plain_plan, blob_plan = _plan(*head, knobs), _plan(*head, *BLOBS, knobs)
    layered = dataclasses.replace(engine, unet=copy.deepcopy(engine.unet))
    add_blob_layers(layered.unet, BlobLayerConfig(text_dim=32, embed_dim=32, mlp_dim=64))
    ratio, a, b = paired(
        lambda: render(blob_plan, {}, layered), lambda: render(plain_plan, {}, engine), repeats
    )
    # Locality: training-free regional grounding (the tiny model has no trained blob layers).
    one_blob = _plan(*head, BLOBS[0], knobs)
    moved = np.asarray(render(one_blob, {}, engine).images[0], dtype=np.float64)
    still = np.asarray(render(plain_plan, {}, engine).images[0], dtype=np.float64)
    change = np.abs(moved - still).mean(-1)
    inside = one_blob.blobs[0].mask(64, 64)
    return {
        "blob_layer_overhead_ratio": ratio, "blob_layers_s": a, "blob_plain_s": b,
        "blob_locality_ratio": float(change[inside].mean() / change[~inside].mean()),
    }  # fmt: skip


# -- report -------------------------------------------------------------------------------------------

PARTS = ("warm", "inversion", "cached", "style", "blob", "flops")
ROWS = [
    ("warm_edit_overhead_ratio", "warm Session.edit turn / bare render of its plan", "<= 1.10"),
    ("inversion_cost_ratio", "inversion + regeneration / plain generation", "<= 1.55"),
    ("cached_reedit_ratio", "second edit of the same base (cached) / plain", "<= 1.05"),
    ("style_batch4_cost_ratio", "StyleAligned batch 4 / plain batch 4 (anypix)", "<= 1.25"),
    (
        "style_batch4_literal_cost_ratio",
        "  same, literal method (all rows, concat norms)",
        "ref 1.49",
    ),
    ("style_batch4_no_norm_ratio", "  anypix, group-norm sharing off", ""),
    ("style_batch4_adain_only_ratio", "  anypix, AdaIN only (no shared keys, no norms)", ""),
    ("blob_layer_overhead_ratio", "BlobGEN layers + 2 blobs / plain generation", "<= 1.19"),
    *[
        (f"{key}_flop_ratio_{size}", f"{label} FLOP ratio, {size} UNet call (meta)", "")
        for size in REAL_SIZES
        for key, label in (("inversion_step", "DDIM inversion step / CFG step"),
                           ("style", "StyleAligned batch 4 (anypix)"),
                           ("style_literal", "  same, literal method"),
                           ("blob", "blob layers + 2 blobs"))
    ],
    ("blob_locality_ratio", "blob edit: mean change inside / outside", "> 1"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="4 steps, 2 repeats (a smoke run)")
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall",
                        help="wall time, or this process's CPU time (steadier on a shared machine; "
                        "use with --threads 1)")  # fmt: skip
    parser.add_argument("--skip-flops", action="store_true", help="skip the SD 1.5 FLOP count")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated subset of {','.join(PARTS)} (a rerun of one part)")  # fmt: skip
    args = parser.parse_args()
    only = set(args.only.split(","))
    if only - set(PARTS):
        parser.error(f"--only: unknown part(s) {', '.join(sorted(only - set(PARTS)))}; "
                     f"choose from {','.join(PARTS)}")  # fmt: skip
    if args.quick:
        args.steps, args.repeats = 4, 2
    global clock
    clock = CLOCK[args.clock]

    import torch

    from anypix.config import Settings
    from anypix.models.diffusion import load_components
    from anypix.tools.inversion_cache import InversionCache, using

    torch.set_num_threads(args.threads)
    engine = load_components("tiny-random", settings=Settings(device="cpu", model_paths={}))
    results: dict[str, Any] = {"device": "cpu", "threads": args.threads, "steps": args.steps,
                               "repeats": args.repeats, "clock": args.clock}  # fmt: skip
    # Session.edit runs its own inference mode, as a front end calls it.
    if "warm" in only:
        results.update(warm_edit_overhead(args.steps, args.repeats))
    parts = {"inversion": inversion_cost, "cached": cached_reedit_cost, "style": style_cost,
             "blob": blob_figures}  # fmt: skip
    with torch.inference_mode(), using(InversionCache(None)):  # never the user's data dir
        for part in (p for p in parts if p in only):
            results.update(parts[part](engine, args.steps, args.repeats))
    if "flops" in only and not args.skip_flops:
        results.update(technique_flops())
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"engine benchmark: tiny SD-shaped model, CPU, {args.threads} threads, {args.steps} steps, "
          f"64x64, CFG 7.5, {args.clock} clock, medians of {args.repeats} interleaved pairs")  # fmt: skip
    print(f"| {'figure':<52} | {'value':>7} | {'target':>8} |")
    print(f"|{'-' * 54}|{'-' * 9}|{'-' * 10}|")
    for key, label, target in ROWS:
        value = results.get(key)
        shown = "n/a" if value is None else f"{value:.2f}"
        print(f"| {label:<52} | {shown:>7} | {target:>8} |")
    if results.get("blob_note"):
        print(f"blob figures n/a: {results['blob_note']}")


if __name__ == "__main__":
    main()
