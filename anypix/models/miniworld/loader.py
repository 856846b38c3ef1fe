"""Load the shipped miniworld weights into a :class:`~anypix.models.diffusion.Components`.

The UNet and text encoder are rebuilt from ``model.json``'s config and loaded from fp16
safetensors; the "VAE" is pixel (un)shuffle; subject references (images and sounds) go through
the miniworld binding encoder into the UNet's subject tokens.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.errors import ModelUnavailableError

if TYPE_CHECKING:
    import torch

    from anypix.config import Settings
    from anypix.models.diffusion import Components

WEIGHTS = Path(__file__).parent / "weights"
DEFAULT_STEPS = 20
# Classifier-free guidance 3, chosen for the v2 UNet on dev scenes (benchmarks/fidelity.py --only
# layout, seeds 500000 n = 32 and 600000 n = 64; against 2): blob mIoU of its ceiling 0.911 / 0.905
# against 0.879 / 0.890, shape accuracy 0.446 / 0.468 against 0.419 / 0.430, colour the same; 4.5
# and 6 fall back. Every op end to end (figures_ops, dev seeds 550000+) is the same within its
# spread. Checked again for v3 (silhouettes; its first run, dev seeds 500000, n = 32): shape
# accuracy 0.892 / 0.959 / 0.919 / 0.946 at 2 / 3 / 4 / 5, blob mIoU of its ceiling 0.843 /
# 0.830 / 0.810 / 0.780. The model card has the held-out figures.
DEFAULT_GUIDANCE = 3.0


def weights_dir(settings: Settings | None = None) -> Path:
    configured = settings.model_paths.get("miniworld") if settings is not None else None
    return Path(configured) if configured else WEIGHTS


class MiniworldSubjects:
    """The miniworld's :class:`~anypix.tools.subject.SubjectTokenEncoder`: subject images or
    sounds -> binding-space vectors -> the UNet's subject tokens, and -> words (``describe``)."""

    def __init__(self, unet: Any, binding: Any) -> None:
        self.unet, self.binding = unet, binding

    @property
    def encoder(self) -> Any:
        """The binding encoder: the space the subject tokens (and the refinement prior) read."""
        return self.binding

    def vectors(self, items: Sequence[Any]) -> torch.Tensor:
        """Binding vectors of subjects: PIL images, or sounds as ``(waveform, rate)`` pairs."""
        import torch
        from PIL import Image

        rows = []
        for item in items:
            modality = "image" if isinstance(item, Image.Image) else "audio"
            rows.append(self.binding.embed([item], modality))
        return torch.cat(rows)

    def tokens(self, vectors: torch.Tensor) -> torch.Tensor:
        param = next(self.unet.subject_tokens.parameters())
        return self.unet.subject_tokens(vectors.to(param.device, param.dtype))

    def encode_subjects(self, images: Sequence[Any]) -> torch.Tensor:
        return self.tokens(self.vectors(images))

    def null_tokens(self, subjects: int) -> torch.Tensor:
        return self.unet.subject_tokens.null_tokens(subjects)

    def describe(self, items: Sequence[Any]) -> list[str]:
        """Each subject in the world's words: the nearest "{colour} {shape}" in binding space
        (zero-shot, as ImageBind classifies). The UNet's text path draws these far more surely
        than it reads subject tokens. They come terse, as the UNet learnt blob sentences without
        a size: "a cyan ring" (an article and no size) it never saw, and it draws 56% of the
        fidelity benchmark's tones in their colour from that phrasing against 100% from this one."""
        from anypix.models.miniworld.data import COLOURS, SHAPES

        texts = [f"{colour} {shape}" for colour in COLOURS for shape in SHAPES]
        vectors = self.vectors(items)
        words = self.binding.embed_texts(texts).to(vectors.device, vectors.dtype)
        return [texts[int(i)] for i in (vectors @ words.T).argmax(dim=1)]


def load_miniworld(
    *, settings: Settings | None = None, device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> Components:  # fmt: skip
    import torch
    from safetensors.torch import load_file

    from anypix.models.diffusion import Components
    from anypix.models.miniworld.model import (
        MiniworldConfig,
        PixelShuffleVAE,
        build_scheduler,
        build_text_encoder,
        build_unet,
        load_tokenizer,
    )

    folder = weights_dir(settings)
    if not (folder / "unet.safetensors").exists():
        raise ModelUnavailableError(
            f"the miniworld weights are not in {folder}",
            "train them with 'anypix train miniworld' (or use --model tiny-random)",
        )
    info = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    config = MiniworldConfig.from_dict(info["config"])
    tokenizer = load_tokenizer(folder / "tokenizer", config.max_length)
    unet, text_encoder = build_unet(config), build_text_encoder(config, tokenizer)
    unet.load_state_dict({k: v.float() for k, v in load_file(folder / "unet.safetensors").items()})
    text_encoder.load_state_dict(
        {k: v.float() for k, v in load_file(folder / "text_encoder.safetensors").items()}
    )
    target = device or torch.device("cpu")
    torch_dtype = dtype or torch.float32
    vae = PixelShuffleVAE()
    for module in (unet, text_encoder, vae):  # built in float32; no pipeline to own them
        # A dtype given to diffusers' to() always warns about fp32 modules (none here): give
        # one only when it changes something.
        cast = {} if torch_dtype == torch.float32 else {"dtype": torch_dtype}
        module.to(device=target, **cast).eval().requires_grad_(False)
    return Components(
        preset="miniworld", unet=unet, vae=vae, text_encoder=text_encoder,
        tokenizer=tokenizer, scheduler=build_scheduler(), device=target, dtype=torch_dtype,
        default_steps=DEFAULT_STEPS, default_guidance=DEFAULT_GUIDANCE,
        subject_encoder=_subjects(unet, folder, target),
        options={"weights": str(folder), "train_steps": info.get("steps")},
    )  # fmt: skip


def _subjects(unet: Any, folder: Path, device: torch.device) -> MiniworldSubjects | None:
    """Subject tokens read the binding encoder shipped beside the UNet; without it, [sub]
    references are refused when a plan uses them."""
    from anypix.models.miniworld.binding import load_binding

    try:
        return MiniworldSubjects(unet, load_binding(folder, str(device)))
    except ModelUnavailableError:
        return None
