"""SDXL-size speed on one GPU: the plain diffusers pipeline against anypix's renders.

    python benchmarks/gpu.py [--json] [--compile] [--steps 30] [--size 1024] [--repeats 3]
    python benchmarks/gpu.py --dry-run     # the same code on CPU, tiny UNet, 64x64, 2 steps

The model is SDXL's architecture from its published configs (UNet 2.57B parameters, VAE, CLIP-L
and OpenCLIP-bigG text encoders) with random weights, built on the device in bf16; a byte-level
tokenizer stands in for CLIP's (nothing is downloaded; only the embedding table is smaller).
Guidance 7.5 (batch 2 per image), DDIM. Attention is diffusers' default processor, i.e.
PyTorch SDPA (flash / memory-efficient kernels on CUDA in bf16); the UNet and VAE are
channels-last; ``--compile`` wraps the UNet in ``torch.compile`` (off by default: anypix swaps
attention processors per technique, and each swap recompiles).

Cases, each a warm-up run (untimed) and ``--repeats`` timed runs (medians):

* ``diffusers``: ``StableDiffusionXLPipeline`` on the same components;
* ``plain``, ``blob``: anypix's ``render()`` of a generation plan, and of the same plan with two
  blobs (the model's grounding: regional cross-attention for a model without blob layers);
* ``style4``: a StyleAligned batch of 4 (``generate_style_batch``, default options);
* ``edit``: an edit of a [base] (VAE encode, DDIM inversion at guidance 1, regeneration with CFG;
  inversion cache off).

Seconds per step are medians of the intervals between step callbacks (the device synchronised at
each), so prompt encoding and VAE work are not in them; ``total_s`` includes everything. The
TFLOP per step are counted with ``FlopCounterMode`` on the meta device for this UNet at this size
(SDXL at 1024^2, batch 2: 13.5), times the rows a case runs; the fraction of peak divides the
achieved rate by the device's dense bf16 peak from :data:`PEAK_BF16_TFLOPS`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity) by a part of the CUDA device name; the
# first match wins, so the more specific names come first.
PEAK_BF16_TFLOPS = {
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.0,  # SXM
    "H200": 989.0,  # also GH200
    "B200": 2250.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": 70.0,
    "RTX 4090": 165.0,
}

# stabilityai/stable-diffusion-xl-base-1.0, unet/config.json
SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20),
    cross_attention_dim=2048, use_linear_projection=True, addition_embed_type="text_time",
    addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816, norm_num_groups=32,
)  # fmt: skip
# vae/config.json
SDXL_VAE = dict(
    block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4,
    norm_num_groups=32, sample_size=1024, scaling_factor=0.13025,
)  # fmt: skip
# text_encoder (CLIP ViT-L/14) and text_encoder_2 (OpenCLIP ViT-bigG/14) config.json
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
              num_attention_heads=12, projection_dim=768, hidden_act="quick_gelu")  # fmt: skip
CLIP_BIGG = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                 num_attention_heads=20, projection_dim=1280, hidden_act="gelu")  # fmt: skip
# The dry run's stand-ins: the same block kinds (text_time embedding, linear projections,
# per-level transformer depth), small enough for a CPU test. 80 = 6 * 8 time ids + 32 pooled.
TINY_UNET = dict(
    sample_size=32, in_channels=4, out_channels=4, layers_per_block=1,
    block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), transformer_layers_per_block=(1, 2),
    attention_head_dim=(2, 4), cross_attention_dim=64, use_linear_projection=True,
    addition_embed_type="text_time", addition_time_embed_dim=8,
    projection_class_embeddings_input_dim=80, norm_num_groups=16,
)  # fmt: skip
TINY_VAE = dict(
    block_out_channels=(16, 32), down_block_types=("DownEncoderBlock2D",) * 2,
    up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, latent_channels=4,
    norm_num_groups=16, sample_size=64, scaling_factor=0.13025,
)  # fmt: skip
TINY_CLIP = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                 num_attention_heads=4, projection_dim=32, hidden_act="gelu")  # fmt: skip

PROMPT = "a red fox under a full moon"
STYLE_PROMPTS = ["a watercolor painting of a fox", "a castle", "a bicycle", "a bowl of fruit"]
GUIDANCE = 7.5


def build_components(device: Any, dtype: Any, *, tiny: bool, compile_unet: bool) -> Any:
    """SDXL-shaped ``Components`` (random weights, built on ``device``) over a real SDXL pipeline."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from anypix.models.diffusion import Components
    from anypix.models.tiny import byte_clip_tokenizer

    tokenizer = byte_clip_tokenizer()

    def clip(config: dict[str, Any]) -> CLIPTextConfig:
        return CLIPTextConfig(vocab_size=len(tokenizer), max_position_embeddings=77,
                              bos_token_id=tokenizer.bos_token_id,
                              eos_token_id=tokenizer.eos_token_id,
                              pad_token_id=tokenizer.pad_token_id, **config)  # fmt: skip

    torch.manual_seed(0)
    with torch.device(device):  # initialised where it runs: SDXL init on a CPU takes minutes
        unet = UNet2DConditionModel(**(TINY_UNET if tiny else SDXL_UNET))
        vae = AutoencoderKL(**(TINY_VAE if tiny else SDXL_VAE))
        text_encoder = CLIPTextModel(clip(TINY_CLIP if tiny else CLIP_L))
        text_encoder_2 = CLIPTextModelWithProjection(clip(TINY_CLIP if tiny else CLIP_BIGG))
    for module in (unet, vae, text_encoder, text_encoder_2):
        module.to(dtype=dtype).eval().requires_grad_(False)
    unet.to(memory_format=torch.channels_last)
    vae.to(memory_format=torch.channels_last)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1,
                              timestep_spacing="leading")  # fmt: skip
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder,
                                     text_encoder_2=text_encoder_2, tokenizer=tokenizer,
                                     tokenizer_2=byte_clip_tokenizer(), unet=unet,
                                     scheduler=scheduler, add_watermarker=False)  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    if compile_unet:
        pipe.unet = torch.compile(unet)
    return Components(preset="sdxl-random", unet=pipe.unet, vae=vae, text_encoder=text_encoder,
                      tokenizer=tokenizer, scheduler=scheduler, device=torch.device(device),
                      dtype=dtype, text_encoder_2=text_encoder_2, tokenizer_2=pipe.tokenizer_2,
                      pipeline=pipe, default_steps=30, default_guidance=GUIDANCE,
                      options={"compile": compile_unet, "channels_last": True})  # fmt: skip


def step_tflop(unet_config: dict[str, Any], latent: int, batch: int) -> float:
    """TFLOP of one UNet call on ``latent``-sided latents, ``batch`` rows (meta device: exact
    counts, no memory, and it sees the attention matmuls a CPU flash kernel would hide)."""
    import torch
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    pooled = (
        unet_config["projection_class_embeddings_input_dim"]
        - 6 * unet_config["addition_time_embed_dim"]
    )
    with torch.device("meta"):
        unet = UNet2DConditionModel(**unet_config)
        sample = torch.randn(batch, 4, latent, latent)
        text = torch.randn(batch, 77, unet_config["cross_attention_dim"])
        added = {"text_embeds": torch.randn(batch, pooled), "time_ids": torch.randn(batch, 6)}
    with FlopCounterMode(display=False) as counter:
        unet(sample, 500, encoder_hidden_states=text, added_cond_kwargs=added)
    return counter.get_total_flops() / 1e12


class StepClock:
    """Times between step callbacks, with the device synchronised at each."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.marks: list[float] = []

    def sync(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def tick(self, *_: Any) -> None:
        self.sync()
        self.marks.append(time.perf_counter())

    def intervals(self, skip: int = 0) -> list[float]:
        marks = self.marks[skip:]
        return [b - a for a, b in itertools.pairwise(marks)]


def cases(components: Any, steps: int, side: int) -> dict[str, Callable[[StepClock], Any]]:
    """Each case runs once, calling ``clock.tick`` after every UNet step; returns its output."""
    from anypix.models.attention import StyleAlignedOptions
    from anypix.plan import EditPlan
    from anypix.tools.inversion_cache import using
    from anypix.tools.render import render
    from anypix.tools.style import generate_style_batch

    knobs = f"[knobs] steps={steps} guidance={GUIDANCE} seed=1 size={side}x{side}"
    plain = EditPlan.from_tokens(f"[gen] {PROMPT}\n[op] generate\n{knobs}")
    r = side // 6  # two blobs scaled to the image
    blob = EditPlan.from_tokens("\n".join([
        f"[gen] {PROMPT}", "[op] generate",
        f'[blob] fox {{major-radius: {2 * r}px; minor-radius: {r}px; cx: {side // 3}px; '
        f'cy: {2 * side // 3}px; angle: 30}} "a red fox"',
        f'[blob] moon {{major-radius: {r}px; minor-radius: {r}px; cx: {3 * side // 4}px; '
        f'cy: {side // 4}px; angle: 0}} "a full moon"', knobs]))  # fmt: skip
    edit = EditPlan.from_tokens(f"[base] photo\n[gen] {PROMPT}\n[op] variation\n{knobs} alpha=0.7")
    photo = gradient_image(side)

    def diffusers_run(clock: StepClock) -> Any:
        def on_step(pipe: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            clock.tick()
            return kwargs

        return components.pipeline(
            PROMPT,
            height=side,
            width=side,
            num_inference_steps=steps,
            guidance_scale=GUIDANCE,
            callback_on_step_end=on_step,
        ).images

    def edit_run(clock: StepClock) -> Any:
        with using(None):  # a first edit: the inversion runs
            return render(edit, {"photo": photo}, components, progress=clock.tick).images

    return {
        "diffusers": diffusers_run,
        "plain": lambda clock: render(plain, {}, components, progress=clock.tick).images,
        "blob": lambda clock: render(blob, {}, components, progress=clock.tick).images,
        "style4": lambda clock: generate_style_batch(
            components, STYLE_PROMPTS, steps=steps, guidance=GUIDANCE, seed=1,
            size=(side, side), options=StyleAlignedOptions(), after_step=clock.tick),
        "edit": edit_run,
    }  # fmt: skip


ROWS_PER_CASE = {"diffusers": 1, "plain": 1, "blob": 1, "style4": 4, "edit": 1}


def gradient_image(side: int) -> Any:
    import numpy as np
    from PIL import Image

    ys, xs = np.mgrid[0:side, 0:side]
    rgb = np.stack([xs * 255 // side, ys * 255 // side, (xs + ys) % 64 * 4], -1)
    return Image.fromarray(rgb.astype("uint8"))


def check_output(name: str, output: Any, side: int, latent_side: int) -> None:
    """Each case made what it should at this size (images, or the style batch's latents)."""
    if name == "style4":
        expected = (4, 4, latent_side, latent_side)
        if tuple(output.shape) != expected:
            raise AssertionError(f"style4 latents are {tuple(output.shape)}, not {expected}")
        return
    if [image.size for image in output] != [(side, side)]:
        raise AssertionError(f"{name} made {[image.size for image in output]}, not {side}^2")


def measure(components: Any, steps: int, side: int, repeats: int) -> dict[str, dict[str, Any]]:
    import torch

    device = components.device
    latent_side = side // components.vae_scale_factor
    results: dict[str, dict[str, Any]] = {}
    for name, run in cases(components, steps, side).items():
        check_output(name, run(StepClock(device)), side, latent_side)  # warm-up (and compile)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        per_step, totals = [], []
        for _ in range(repeats):
            clock = StepClock(device)
            clock.sync()
            start = time.perf_counter()
            run(clock)
            clock.sync()
            totals.append(time.perf_counter() - start)
            # The edit's first ``steps`` ticks are its inversion (batch 1, guidance 1).
            per_step += clock.intervals(skip=steps if name == "edit" else 0)
        results[name] = {
            "total_s": statistics.median(totals),
            "s_per_step": statistics.median(per_step),
            "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30
            if device.type == "cuda" else None,
        }  # fmt: skip
    return results


def peak_for(device_name: str) -> float | None:
    """The dense bf16 peak of a CUDA device by its name, or None for one not in the table."""
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in device_name), None)


def device_name(device: Any) -> str:
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, tiny UNet config, 64x64, 2 steps, 1 repeat (a test)")  # fmt: skip
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import torch

    if args.dry_run:
        device, dtype, args.steps, args.size, args.repeats = "cpu", torch.float32, 2, 64, 1
    elif not torch.cuda.is_available():
        raise SystemExit("no CUDA device here; run with --dry-run for the CPU check")
    else:
        device, dtype = "cuda", torch.bfloat16
    started = time.perf_counter()
    components = build_components(device, dtype, tiny=args.dry_run, compile_unet=args.compile)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    weight_hash = components.weight_hash  # every render's provenance reads it; cached after
    hash_s = time.perf_counter() - started
    with torch.inference_mode():
        results = measure(components, args.steps, args.size, args.repeats)
    name = device_name(components.device)
    peak = peak_for(name) if components.device.type == "cuda" else None
    unet_config = TINY_UNET if args.dry_run else SDXL_UNET
    latent_side = args.size // components.vae_scale_factor
    plain_tflop = step_tflop(unet_config, latent_side, batch=2)
    for case, row in results.items():
        row["tflop_per_step"] = plain_tflop * ROWS_PER_CASE[case]
        achieved = row["tflop_per_step"] / row["s_per_step"]
        row["fraction_of_peak"] = None if peak is None else achieved / peak
    report = {
        "device": name, "peak_bf16_tflops": peak, "dtype": str(dtype).removeprefix("torch."),
        "size": args.size, "steps": args.steps, "repeats": args.repeats, "guidance": GUIDANCE,
        "attention": "SDPA (diffusers AttnProcessor2_0)", "channels_last": True,
        "compile": args.compile, "dry_run": args.dry_run, "build_s": build_s,
        "weight_hash_s": hash_s, "weight_hash": weight_hash[:12],
        "unet_params": sum(p.numel() for p in components.unet.parameters()),
        "cases": results,
    }  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return report


def print_table(report: dict[str, Any]) -> None:
    peak = report["peak_bf16_tflops"]
    print(f"gpu benchmark: {report['device']} (bf16 peak {peak or 'n/a'} TFLOP/s), "
          f"{report['dtype']}, {report['size']}^2, {report['steps']} steps, CFG {GUIDANCE}, "
          f"UNet {report['unet_params'] / 1e6:.0f}M params, SDPA, channels-last, "
          f"compile {'on' if report['compile'] else 'off'}; medians of {report['repeats']}")  # fmt: skip
    print(f"| {'case':<10} | {'total s':>8} | {'s/step':>8} | {'TFLOP/step':>10} | "
          f"{'of peak':>7} | {'peak GiB':>8} |")  # fmt: skip
    print(f"|{'-' * 12}|{'-' * 10}|{'-' * 10}|{'-' * 12}|{'-' * 9}|{'-' * 10}|")
    for name, row in report["cases"].items():
        share = "n/a" if row["fraction_of_peak"] is None else f"{row['fraction_of_peak']:.0%}"
        memory = "n/a" if row["peak_gib"] is None else f"{row['peak_gib']:.1f}"
        print(f"| {name:<10} | {row['total_s']:>8.3f} | {row['s_per_step']:>8.4f} | "
              f"{row['tflop_per_step']:>10.3g} | {share:>7} | {memory:>8} |")  # fmt: skip
    print(f"model built in {report['build_s']:.1f} s; weight hash {report['weight_hash_s']:.1f} s")


if __name__ == "__main__":
    main()
