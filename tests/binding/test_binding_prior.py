"""Refinement prior: training lowers the loss, checkpoints resume exactly, guidance is a knob;
the InstructAny2Pix mix and the refine tool."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from anypix.errors import AnypixError
from anypix.models.prior import PriorConfig, RefinementPrior, load_prior
from anypix.models.prior_training import PairFile, SyntheticWorld, TrainPriorConfig, train_prior
from anypix.tools.refine import mix_conditioning, refine
from tests.binding.fakes import BagOfWordsEncoder

SMALL = PriorConfig(dim=16, width=32, layers=1, heads=2)
FAST = TrainPriorConfig(steps=160, batch=64, lr=3e-3, warmup=10, checkpoint_every=40, eval_size=512)


class _Stop(Exception):
    pass


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):  # one run shared by the tests below
    out = tmp_path_factory.mktemp("prior")
    return out, train_prior(out, FAST, SMALL)


def test_training_lowers_loss_and_beats_identity_on_held_out_pairs(trained) -> None:
    out, report = trained
    losses = torch.load(out / "prior.pt", weights_only=True)["losses"]
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert report.prior_l2 < report.identity_l2
    # The cross-modal pairs are where the identity map is worst and the prior helps most.
    prior_text, identity_text = report.per_modality["text"]
    assert prior_text < 0.6 * identity_text
    assert (out / "report.json").exists()


def test_a_trained_prior_follows_the_score(trained) -> None:
    # Quality is latent factor 0 of the synthetic world and text does not carry it: only the
    # score can move the output along it, and guidance moves it further.
    prior = load_prior(trained[1].checkpoint)
    world = SyntheticWorld(16, seed=0)
    source, modality, _, _ = world.sample(256, torch.Generator().manual_seed(5))
    text = source[modality == 1]
    quality = world.quality_direction()
    low = prior.generate(text, "text", score=2.0) @ quality
    high = prior.generate(text, "text", score=8.0) @ quality
    guided = prior.generate(text, "text", score=8.0, guidance=3.0) @ quality
    assert float(high.mean()) > float(low.mean()) + 0.05
    assert float(guided.mean()) > float(high.mean())


def test_resume_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    config = replace(FAST, steps=30, checkpoint_every=10)
    straight = train_prior(tmp_path / "straight", config, SMALL)

    def crash_at_20(message: str) -> None:
        if message.startswith("step 20"):
            raise _Stop

    with pytest.raises(_Stop):
        train_prior(tmp_path / "resumed", config, SMALL, log=crash_at_20)
    assert torch.load(tmp_path / "resumed" / "prior.pt", weights_only=True)["step"] == 20
    messages: list[str] = []
    resumed = train_prior(tmp_path / "resumed", config, SMALL, log=messages.append)
    assert messages[0] == "resumed from step 20"
    a = load_prior(straight.checkpoint).state_dict()
    b = load_prior(resumed.checkpoint).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert resumed.prior_l2 == pytest.approx(straight.prior_l2, abs=1e-5)


def test_resume_refuses_a_checkpoint_of_another_shape(tmp_path: Path) -> None:
    train_prior(tmp_path, replace(FAST, steps=2), SMALL)
    with pytest.raises(ValueError, match="another PriorConfig"):
        train_prior(tmp_path, replace(FAST, steps=4), replace(SMALL, width=64))


def test_training_from_a_pair_file_holds_out_its_tail(tmp_path: Path) -> None:
    world = SyntheticWorld(16, seed=3)
    source, modality, score, target = world.sample(500, torch.Generator().manual_seed(1))
    path = tmp_path / "pairs.npz"
    np.savez(path, source=source.numpy(), modality=modality.numpy(), score=score.numpy(),
             target=target.numpy())  # fmt: skip
    train, held_out = PairFile(path, "train"), PairFile(path, "test")
    assert (len(train.source), len(held_out.source)) == (450, 50)
    assert torch.equal(held_out.source, source[450:])
    report = train_prior(tmp_path / "out", replace(FAST, steps=60, data=str(path)), SMALL)
    assert report.prior_l2 < report.identity_l2


def test_guidance_on_the_score_is_a_knob() -> None:
    torch.manual_seed(0)
    prior = RefinementPrior(SMALL)
    torch.nn.init.normal_(prior.out_proj.weight, std=0.2)  # a prior that is not the identity
    source = torch.nn.functional.normalize(torch.randn(3, 16), dim=-1)
    plain = prior.generate(source, "text", score=8.0, guidance=1.0)
    expected = torch.nn.functional.normalize(
        prior(source, torch.ones(3, dtype=torch.long), torch.full((3,), 8.0)), dim=-1
    )
    assert torch.allclose(plain, expected, atol=1e-6)
    guided = prior.generate(source, "text", score=8.0, guidance=4.0)
    assert not torch.allclose(guided, plain, atol=1e-3)
    assert torch.allclose(guided.norm(dim=-1), torch.ones(3), atol=1e-5)


def test_mix_is_a_weighted_sum_of_unit_terms_renormalised() -> None:
    gen, prior, base = torch.eye(3) * torch.tensor([[2.0], [5.0], [0.5]])
    mixed = mix_conditioning(
        gen, prior, base, mix_base=0.0, mix_gen=0.4, mix_prior=1.0, mix_norm=20.0
    )
    assert mixed.norm() == pytest.approx(20.0)
    direction = torch.tensor([0.4, 1.0, 0.0]) / (0.4**2 + 1) ** 0.5
    assert torch.allclose(mixed / 20.0, direction, atol=1e-6)  # input norms do not matter
    only_gen = mix_conditioning(gen, None, base, mix_base=0.0, mix_gen=1.0, mix_prior=1.0)
    assert torch.allclose(only_gen, torch.tensor([1.0, 0.0, 0.0]))  # missing prior drops out
    with pytest.raises(AnypixError, match="nothing to condition on"):
        mix_conditioning(gen, prior, base, mix_base=0.0, mix_gen=0.0, mix_prior=0.0)


def test_refine_mixes_gen_prior_and_base_from_the_session(tmp_path: Path) -> None:
    from PIL import Image

    from anypix.tools.retrieve import SessionIndex

    encoder = BagOfWordsEncoder(dim=16, modalities=("text", "image"))
    index = SessionIndex(encoder, cache_root=tmp_path)
    index.add("photo", Image.new("RGB", (8, 8), "red"), "image")
    torch.manual_seed(0)
    prior = RefinementPrior(SMALL)
    result = refine(
        "a dog on the grass", base="photo", mix_base=0.5, mix_norm=3.0, _prior=prior, _index=index
    )
    assert result.prior_used and result.encoder == "fake-bow"
    assert result.norm == pytest.approx(3.0, abs=1e-4)
    assert result.cosine_to_base is not None and result.cosine_to_base > 0
    no_prior = refine("a dog on the grass", mix_prior=0.0, _index=index, _prior=prior)
    assert no_prior.cosine_to_gen == pytest.approx(1.0, abs=1e-5)


def test_refine_without_a_trained_prior_says_so(tmp_path: Path) -> None:
    result = refine("a dog on the grass", _encoder=BagOfWordsEncoder(dim=16))
    assert result.prior_used is False
    assert result.cosine_to_gen == pytest.approx(1.0, abs=1e-5)


def test_train_prior_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from anypix.cli import app

    args = ["train", "prior", "--steps", "4", "--batch", "16", "--dim", "16", "--width", "32",
            "--layers", "1", "--out", str(tmp_path), "--device", "cpu"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "prior" in result.output and "identity" in result.output
    assert (tmp_path / "prior.pt").exists()
    again = CliRunner().invoke(app, args)
    assert "resumed from step 4" in again.output
