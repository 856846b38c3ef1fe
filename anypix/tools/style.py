"""StyleAligned generation: a batch of images that share one style.

The batch's first image is the style reference. It is either generated from the first prompt
alongside the others (StyleAligned's text-to-image mode) or, when a reference image is given,
DDIM-inverted and replayed from its inverted trajectory at every step (StyleAligned's transfer
mode), so that the other images attend to *its* keys and values. Either way the sharing is the
render's own :class:`~anypix.tools.techniques.StyleReference` technique: one style path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from anypix.models.attention import StyleAlignedOptions
from anypix.models.diffusion import Components
from anypix.tools.techniques import StyleReference

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from anypix.tools.invert import InversionTrajectory


def invert_reference(
    components: Components,
    image: Image.Image,
    *,
    size: tuple[int, int],
    steps: int,
    prompt: str = "",
) -> InversionTrajectory:
    """DDIM trajectory of a real style image (guidance 1, described by ``prompt``)."""
    from anypix.tools.invert import invert_image

    return invert_image(components, image, size=size, steps=steps, prompt=prompt)


def generate_style_batch(
    components: Components,
    prompts: Sequence[str],
    *,
    steps: int,
    guidance: float,
    seed: int,
    size: tuple[int, int],
    options: StyleAlignedOptions | None = StyleAlignedOptions(),
    reference: InversionTrajectory | None = None,
    after_step: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Latents of ``prompts`` generated together, row 0 being the style reference.

    ``options=None`` runs the plain batch (no sharing): the baseline StyleAligned is measured
    against. With ``reference`` row 0 follows that inverted trajectory instead of its noise."""
    import contextlib

    import torch

    from anypix.models.diffusion import denoise, encode_prompts, make_scheduler

    do_cfg = guidance > 1.0
    conditioning = encode_prompts(components, list(prompts), do_cfg=do_cfg, size=size)
    factor, (width, height) = components.vae_scale_factor, size
    shape = (len(prompts), components.unet.config.in_channels, height // factor, width // factor)
    generator = torch.Generator("cpu").manual_seed(seed)
    latents = torch.randn(shape, generator=generator).to(components.device, components.dtype)
    scheduler = make_scheduler(components.scheduler_name, components.scheduler.config)
    scheduler.set_timesteps(steps, device=components.device)

    style = StyleReference(options or StyleAlignedOptions(), reference)
    sharing = (
        style.share(components.unet, do_cfg=do_cfg)
        if options is not None
        else contextlib.nullcontext()
    )
    with sharing:
        return denoise(components, latents, conditioning, scheduler, guidance,
                       before_step=style.before_step, after_step=after_step)  # fmt: skip


def stylize(
    prompts: list[str],
    style_ref: Path | None = None,
    steps: int = 30,
    guidance: float = 7.5,
    seed: int = 0,
    output_dir: Path = Path("."),
    _models: Components | None = None,
) -> list[str]:
    """Generate several images that share one style (StyleAligned shared attention).

    Without a style image the first prompt's image sets the style for the rest; with one, the
    image is DDIM-inverted and every prompt's image takes its style. Returns the saved paths.

    Args:
        prompts: one description per image; with no style_ref the first one is the reference.
        style_ref: an image whose style every output should share.
        steps: denoising steps.
        guidance: classifier-free guidance scale.
        seed: random seed for the starting noise.
        output_dir: where to write style_0.png, style_1.png, ...
    """
    import torch
    from PIL import Image as PILImage

    from anypix.models.diffusion import decode_latents, load_components

    components = _models or load_components()
    size = components.default_size
    with torch.inference_mode():
        reference = None
        if style_ref is not None:
            with PILImage.open(style_ref) as image:
                reference = invert_reference(components, image, size=size, steps=steps)
            prompts = ["", *prompts]
        latents = generate_style_batch(components, prompts, steps=steps, guidance=guidance,
                                       seed=seed, size=size, reference=reference)  # fmt: skip
        images = decode_latents(components, latents[1:] if reference is not None else latents)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, output in enumerate(images):
        path = output_dir / f"style_{index}.png"
        output.save(path)
        paths.append(str(path))
    return paths
