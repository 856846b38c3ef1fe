"""Replay re-runs a stored turn from its plan and provenance and gets the same pixels, bit for bit."""

from __future__ import annotations

import copy
import hashlib
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from memory_fakes import SwitchableRenderer
from PIL import Image

from anypix.errors import TurnFailed
from anypix.plan import EditPlan, Op
from anypix.records import Provenance, Render
from anypix.studio import Studio


def plain_planner(instruction: str, modalities: dict[str, str]) -> EditPlan:
    """No seed in the plan: the renderer draws one, and only the provenance knows it."""
    if "last" in modalities:
        return EditPlan(base="last", gen=instruction, ops=[Op(op="variation")])
    return EditPlan(gen=instruction, ops=[Op(op="generate")])


def weight_hash(module: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


class TinyRenderer:
    """A few DDIM steps of the tiny UNet from a seeded latent (blended with the encoded [base]
    by alpha), decoded with the tiny VAE."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.c = components
        self.weight_hash = weight_hash(components["unet"])

    def _text(self, prompt: str) -> torch.Tensor:
        ids = self.c["tokenizer"](
            prompt, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
        )
        return self.c["text_encoder"](ids.input_ids)[0]

    def _start(self, plan: EditPlan, assets: Mapping[str, Any], seed: int) -> torch.Tensor:
        noise = torch.randn((1, 4, 32, 32), generator=torch.Generator().manual_seed(seed))
        if plan.base is None:
            return noise
        with Image.open(assets[plan.base]) as image:
            pixels = torch.from_numpy(
                np.asarray(image.convert("RGB").resize((64, 64)), dtype=np.float32)
            )
        pixels = pixels.permute(2, 0, 1)[None] / 127.5 - 1
        base = self.c["vae"].encode(pixels).latent_dist.mean * self.c["vae"].config.scaling_factor
        return plan.knobs.alpha * base + (1 - plan.knobs.alpha) * noise

    @torch.inference_mode()
    def __call__(self, plan: EditPlan, assets: Mapping[str, Any], **_: Any) -> Render:
        seed = secrets.randbits(31) if plan.knobs.seed is None else plan.knobs.seed
        steps = plan.knobs.steps or 2
        scheduler = type(self.c["scheduler"]).from_config(self.c["scheduler"].config)
        scheduler.set_timesteps(steps)
        latents, text = self._start(plan, assets, seed), self._text(plan.gen)
        for t in scheduler.timesteps:
            latents = scheduler.step(
                self.c["unet"](latents, t, encoder_hidden_states=text).sample, t, latents
            ).prev_sample
        decoded = self.c["vae"].decode(latents / self.c["vae"].config.scaling_factor).sample
        pixels = (
            ((decoded[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
        )
        inputs = {n: hashlib.sha256(Path(p).read_bytes()).hexdigest() for n, p in assets.items()}
        provenance = Provenance(
            preset="tiny-random", weight_hash=self.weight_hash, seed=seed, scheduler="ddim", steps=steps,
            guidance=1.0, alpha=plan.knobs.alpha, size=(64, 64), device="cpu", dtype="float32",
            plan_tokens=plan.tokens(), inputs=inputs,
        )  # fmt: skip
        return Render(images=[Image.fromarray(pixels)], provenance=provenance)


def test_replay_reproduces_renders_bit_for_bit(tiny_components: dict[str, Any]) -> None:
    with Studio(planner=plain_planner, renderer=TinyRenderer(tiny_components)) as studio:
        session = studio.session()
        first = session.edit("a red circle on grey")
        second = session.edit("make it larger")  # reads the first render's file as [base]
        assert first.plan is not None and first.plan["knobs"]["seed"] is None
        assert second.renders[0].provenance["inputs"] == {"last": first.renders[0].sha256}

        for seq in (1, 2):
            result = session.replay(seq)
            assert result.identical, result.images
            assert result.provenance_changes == {}
            assert [i.max_abs_diff for i in result.images] == [0]


def test_replay_notices_changed_weights(tiny_components: dict[str, Any]) -> None:
    renderer = SwitchableRenderer()
    renderer.inner = TinyRenderer(tiny_components)
    with Studio(planner=plain_planner, renderer=renderer) as studio:
        session = studio.session()
        session.edit("a red circle on grey")
        changed = copy.deepcopy(tiny_components)
        with torch.no_grad():
            for parameter in changed["unet"].parameters():
                parameter.mul_(1.5)
        renderer.inner = TinyRenderer(changed)

        result = session.replay(1)

        assert not result.identical
        assert result.images[0].differing_pixels > 0
        assert set(result.provenance_changes) == {"weight_hash"}


def test_a_failed_turn_cannot_be_replayed(tiny_components: dict[str, Any]) -> None:
    from anypix.memory.history import HistoryError

    def broken(*_: Any, **__: Any) -> Render:
        raise RuntimeError("boom")

    with Studio(planner=plain_planner, renderer=broken) as studio:
        session = studio.session()
        with pytest.raises(TurnFailed, match="boom"):
            session.edit("a red circle")
        with pytest.raises(HistoryError, match="no render to replay"):
            session.replay(1)


@pytest.mark.slow
def test_replay_with_the_project_renderer_is_bit_for_bit(tmp_path: Path) -> None:
    """The same check through anypix.tools.render on the tiny-random preset (integration)."""
    from functools import partial

    from anypix.models.diffusion import load_components
    from anypix.tools.render import render

    def planner(instruction: str, modalities: dict[str, str]) -> EditPlan:
        plan = plain_planner(instruction, modalities)
        return plan.model_copy(update={"knobs": plan.knobs.model_copy(update={"steps": 2})})

    renderer = partial(render, models=load_components("tiny-random"))
    with Studio(tmp_path / "data", planner=planner, renderer=renderer) as studio:
        session = studio.session()
        session.edit("a red circle on grey")
        session.edit("make it larger")
        for seq in (1, 2):
            result = session.replay(seq)
            assert result.identical and result.provenance_changes == {}, result
