"""Real-size composition check on CPU (slow; not in CI): SD 1.5 or SDXL from their published
configs with random weights, one plan that uses every technique a weights-free model can run.

    python benchmarks/realsize.py --model sd15 [--size 256] [--steps 2] [--json]
    python benchmarks/realsize.py --model sdxl            # ~10 GB of fp32 weights: one at a time

The plan edits a [base] inside a blob (DDIM inversion, keep-outside compositing, grounding) with
a [style] reference (StyleAligned, its inverted row riding along). [sub] references and the
refinement prior need trained encoders or a prior, which no random-weights model has: they are
reported as not run. The render checks itself (the output size, every technique in the
provenance); this script adds the latent dtypes, peak memory (the process's max RSS) and the
median seconds per UNet step, inversion and denoising apart, against a plain generation.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu  # the SDXL configs and the test image live with the GPU benchmark

# runwayml/stable-diffusion-v1-5: UNet2DConditionModel's defaults are SD 1.5's, but for these.
SD15_UNET = dict(cross_attention_dim=768, sample_size=64)
SD15_VAE = dict(
    block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4,
    norm_num_groups=32, sample_size=512, scaling_factor=0.18215,
)  # fmt: skip
NOT_RUN = {"subjects": "needs a trained subject encoder or IP-Adapter weights",
           "refinement_prior": "needs the trained prior"}  # fmt: skip
BLOB_FRACTION = (0.2, 0.12, 0.35, 0.5)  # major, minor radius, cx, cy as fractions of the side


def build_sd15() -> Any:
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    from anypix.models.diffusion import Components
    from anypix.models.tiny import byte_clip_tokenizer

    tokenizer = byte_clip_tokenizer()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**SD15_UNET).eval().requires_grad_(False)
    vae = AutoencoderKL(**SD15_VAE).eval().requires_grad_(False)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **gpu.CLIP_L,
    )).eval().requires_grad_(False)  # fmt: skip
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)  # fmt: skip
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   unet=unet, scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)  # fmt: skip
    return Components(preset="sd15-random", unet=unet, vae=vae, text_encoder=text_encoder,
                      tokenizer=tokenizer, scheduler=scheduler, device=torch.device("cpu"),
                      dtype=torch.float32, pipeline=pipe)  # fmt: skip


def plans(side: int, steps: int) -> dict[str, Any]:
    from anypix.plan import EditPlan

    major, minor, cx, cy = (round(f * side) for f in BLOB_FRACTION)
    knobs = f"[knobs] seed=1 steps={steps} guidance=7.5 alpha=0.8 size={side}x{side}"
    blob = (f"[blob] dog {{major-radius: {major}px; minor-radius: {minor}px; cx: {cx}px; "
            f'cy: {cy}px; angle: 20}} "a dog"')  # fmt: skip
    every = ["[base] photo", "[gen] a dog on a beach", blob, "[style] ref", "[op] add a dog", knobs]
    return {
        "plain": EditPlan.from_tokens(f"[gen] a dog on a beach\n[op] generate\n{knobs}"),
        "every": EditPlan.from_tokens("\n".join(every)),
    }


def run_plan(components: Any, plan: Any, assets: dict[str, Any], steps: int) -> dict[str, Any]:
    from anypix.tools.choose import techniques_for
    from anypix.tools.inversion_cache import using
    from anypix.tools.render import render

    marks: list[float] = []
    start = time.perf_counter()
    with using(None):
        result = render(plan, assets, components,
                        progress=lambda done, total: marks.append(time.perf_counter()))  # fmt: skip
    total = time.perf_counter() - start
    side = plan.knobs.size[0]
    if result.images[0].size != (side, side):
        raise AssertionError(f"rendered {result.images[0].size}, not {side}x{side}")
    inversions = len(marks) - steps
    gaps = [b - a for a, b in itertools.pairwise([start, *marks])]
    return {
        "techniques": [t.name for t in techniques_for(plan)],
        "total_s": total,
        # The first gap of each inversion and of the denoising loop also holds VAE or text
        # encoding: left out of the per-step figures.
        "inversion_s_per_step": statistics.median(
            [gap for k, gap in enumerate(gaps[:inversions]) if k % steps]
        )
        if inversions
        else None,
        "denoise_s_per_step": statistics.median(gaps[inversions + 1 :] or gaps[inversions:]),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "provenance_keys": sorted(result.provenance.knobs),
    }


def latent_dtypes(components: Any) -> dict[str, str]:
    return {name: str(getattr(components, name).dtype).removeprefix("torch.")
            for name in ("unet", "vae", "text_encoder")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=("sd15", "sdxl"), required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    started = time.perf_counter()
    if args.model == "sd15":
        components = build_sd15()
    else:
        components = gpu.build_components("cpu", torch.float32, tiny=False, compile_unet=False)
    build_s = time.perf_counter() - started
    assets = {
        "photo": gpu.gradient_image(args.size),
        "ref": gpu.gradient_image(args.size).rotate(90),
    }
    report: dict[str, Any] = {
        "model": args.model, "size": args.size, "steps": args.steps, "build_s": build_s,
        "threads": torch.get_num_threads(), "dtypes": latent_dtypes(components),
        "unet_params_m": sum(p.numel() for p in components.unet.parameters()) / 1e6,
        "not_run": NOT_RUN,
    }  # fmt: skip
    with torch.inference_mode():
        # A first render touches fresh memory (slow on these VMs) and fills lazy caches.
        report["first_plain_s"] = run_plan(components, plans(args.size, 1)["plain"], {}, 1)[
            "total_s"
        ]
        for name, plan in plans(args.size, args.steps).items():
            report[name] = run_plan(components, plan, assets, args.steps)
    report["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"real size on CPU: {args.model} ({report['unet_params_m']:.0f}M UNet params, random "
          f"weights, {report['dtypes']['unet']}), {args.size}^2, {args.steps} steps, "
          f"{report['threads']} threads; built in {build_s:.0f} s; peak RSS "
          f"{report['peak_rss_gib']:.1f} GiB; first render (1 step, untimed warm-up) "
          f"{report['first_plain_s']:.0f} s")  # fmt: skip
    print(f"| {'plan':<6} | {'techniques':<58} | {'total s':>7} | {'inv s/step':>10} | "
          f"{'s/step':>7} |")  # fmt: skip
    print(f"|{'-' * 8}|{'-' * 60}|{'-' * 9}|{'-' * 12}|{'-' * 9}|")
    for name in ("plain", "every"):
        row = report[name]
        inv = row["inversion_s_per_step"]
        print(f"| {name:<6} | {', '.join(row['techniques']) or '-':<58} | {row['total_s']:>7.1f} |"
              f" {'-' if inv is None else f'{inv:.2f}':>10} | {row['denoise_s_per_step']:>7.2f} |")  # fmt: skip
    for name, why in NOT_RUN.items():
        print(f"not run: {name} ({why})")


if __name__ == "__main__":
    main()
