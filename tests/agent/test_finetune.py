"""``anypix train planner`` on a tiny random Llama written with save_pretrained (no hub, no GGUF):
the pairs it learns from, the answer-only loss, checkpoint + resume, and the GGUF adapter export."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
gguf = pytest.importorskip("gguf")

from anypix.agent.finetune import (  # noqa: E402
    ADAPTER_FILE,
    CHECKPOINT_FILE,
    PlannerRecipe,
    encode_pair,
    learning_rate,
    load_base,
    train_planner,
    training_pairs,
)
from anypix.agent.lora_gguf import rope_permute  # noqa: E402
from anypix.agent.prompting import plan_answer  # noqa: E402

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama and a small byte-level BPE tokenizer with a ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-llama")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    texts = [json.dumps(p) for p in training_pairs(40, seed=1)]
    bpe.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))  # fmt: skip
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>",
                                        pad_token="<|im_end|>", chat_template=CHATML)  # fmt: skip
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, tie_word_embeddings=True)  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def recipe(base: Path, **changes: object) -> PlannerRecipe:
    options = {"base": str(base), "steps": 4, "batch": 2, "lr": 5e-3, "warmup": 1,
               "rank": 4, "checkpoint_every": 2, "threads": 1, "max_tokens": 400}  # fmt: skip
    return PlannerRecipe(**{**options, **changes})  # type: ignore[arg-type]


def test_pairs_are_plans_fixed_by_the_seed() -> None:
    first, again, other = training_pairs(30, 0), training_pairs(30, 0), training_pairs(30, 1)
    assert len(first) == 30 and all(p["task"] == "plan" for p in first)
    assert first == again and first != other


def test_the_loss_covers_the_answer_and_nothing_before_it(tiny_llama: Path) -> None:
    _, tokenizer = load_base(str(tiny_llama))
    pair = training_pairs(1, 0)[0]
    ids, start = encode_pair(tokenizer, pair, max_tokens=400)
    answer = tokenizer.decode(ids[start:])
    assert answer == plan_answer(pair["plan"]) + "<|im_end|>"
    assert json.loads(answer.removesuffix("<|im_end|>")) == pair["plan"]
    assert pair["instruction"] in tokenizer.decode(ids[:start])


def test_learning_rate_warms_up_then_decays_to_a_tenth() -> None:
    options = PlannerRecipe(steps=10, warmup=2, lr=1.0)
    rates = [learning_rate(options, step) for step in range(10)]
    assert rates[0] == 0.5 and rates[1] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(rates[1:]))
    assert rates[-1] == pytest.approx(0.1 + 0.9 / 8)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(
    tiny_llama: Path, tmp_path: Path
) -> None:
    straight = train_planner(
        tmp_path / "a", tmp_path / "wa", recipe(tiny_llama), log=lambda _: None
    )

    def stop_at_step_three(line: str) -> None:
        if line.startswith("step 3/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_planner(tmp_path / "b", tmp_path / "wb", recipe(tiny_llama), log=stop_at_step_three)
    assert torch.load(tmp_path / "b" / CHECKPOINT_FILE, weights_only=False)["step"] == 2
    lines: list[str] = []
    resumed = train_planner(tmp_path / "b", tmp_path / "wb", recipe(tiny_llama), log=lines.append)
    assert lines[0] == "resumed at step 2/4"
    assert [line.split(" ")[1] for line in lines if line.startswith("step")] == ["3/4", "4/4"]
    a, b = gguf.GGUFReader(straight), gguf.GGUFReader(resumed)
    for ta, tb in zip(a.tensors, b.tensors, strict=True):
        assert ta.name == tb.name
        np.testing.assert_allclose(ta.data, tb.data, atol=1e-3)


def test_a_checkpoint_from_other_options_is_refused(tiny_llama: Path, tmp_path: Path) -> None:
    train_planner(tmp_path / "run", tmp_path / "w", recipe(tiny_llama, steps=2), log=lambda _: None)
    with pytest.raises(ValueError, match="other options"):
        train_planner(tmp_path / "run", tmp_path / "w", recipe(tiny_llama, steps=2, rank=2),
                      log=lambda _: None)  # fmt: skip


def test_the_gguf_adapter_is_llama_cpps_format(tiny_llama: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = train_planner(tmp_path / "run", tmp_path / "w", recipe(tiny_llama, steps=2),
                        log=lambda _: None)  # fmt: skip
    assert out == tmp_path / "w" / ADAPTER_FILE
    reader = gguf.GGUFReader(out)
    fields = {name: reader.fields[name] for name in reader.fields}
    assert bytes(fields["general.type"].parts[-1]).decode() == "adapter"
    assert bytes(fields["adapter.type"].parts[-1]).decode() == "lora"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 16.0
    tensors = {t.name: np.array(t.data, dtype=np.float32) for t in reader.tensors}
    # 2 blocks x q, k, v, o x (a, b); ne is GGUF's order: a is rank x in, b is out x rank
    assert len(tensors) == 16
    assert tensors["blk.0.attn_q.weight.lora_a"].shape == (4, 32)
    assert tensors["blk.0.attn_k.weight.lora_b"].shape == (16, 4)
    peft_model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_llama), tmp_path / "run" / "adapter"
    )
    layer = peft_model.get_base_model().model.layers[1].self_attn
    b_q = layer.q_proj.lora_B["default"].weight.detach().numpy()
    b_v = layer.v_proj.lora_B["default"].weight.detach().numpy()
    np.testing.assert_allclose(
        tensors["blk.1.attn_q.weight.lora_b"], rope_permute(b_q, 4), atol=1e-3
    )
    np.testing.assert_allclose(tensors["blk.1.attn_v.weight.lora_b"], b_v, atol=1e-3)
    assert np.abs(b_q).max() > 0  # trained: B starts at zero


def test_top_blocks_adapts_only_the_last_blocks(tiny_llama: Path, tmp_path: Path) -> None:
    out = train_planner(tmp_path / "run", tmp_path / "w", recipe(tiny_llama, steps=1, top_blocks=1),
                        log=lambda _: None)  # fmt: skip
    names = {t.name for t in gguf.GGUFReader(out).tensors}
    assert names and all(name.startswith("blk.1.") for name in names)


def test_rope_permute_is_undone_by_transformers_gguf_reader() -> None:
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    rows = np.arange(48 * 3, dtype=np.float32).reshape(48, 3)
    undone = LlamaTensorProcessor()._reverse_permute_weights(rope_permute(rows, 4), 4, 4)
    np.testing.assert_array_equal(undone, rows)


def test_bad_options_are_refused(tiny_llama: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        train_planner(tmp_path, tmp_path, recipe(tiny_llama, steps=0), log=lambda _: None)
    with pytest.raises(ValueError, match="does not exist"):
        train_planner(tmp_path, tmp_path, recipe(tmp_path / "nothing"), log=lambda _: None)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # loads SmolLM2 three times; minutes on a busy 2-core machine
def test_llama_cpp_applies_the_gguf_adapter_as_peft_does(tmp_path: Path) -> None:
    """The real SmolLM2 with a random (non-zero) adapter: llama.cpp with the GGUF adapter moves
    the next-token logits the way transformers + peft do (q/k permutation included). Quantisation
    (Q4_1) makes them differ a little, so the shift each makes is compared, not the logits."""
    from llama_cpp import Llama
    from peft import LoraConfig, get_peft_model

    from anypix.agent.llm import smollm2_gguf
    from anypix.agent.lora_gguf import write_lora_gguf

    model, tokenizer = load_base("")
    prompt = tokenizer("<|im_start|>user\nadd a dog to the photo<|im_end|>\n")["input_ids"]
    with torch.no_grad():
        plain = model(torch.tensor([prompt])).logits[0, -1].numpy()
    torch.manual_seed(0)
    config = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "k_proj", "v_proj"],
                        init_lora_weights=False)  # fmt: skip
    adapted_model = get_peft_model(model, config)
    with torch.no_grad():
        adapted = adapted_model(torch.tensor([prompt])).logits[0, -1].numpy()
    write_lora_gguf(adapted_model, tmp_path / "random-lora.gguf")

    def llama_logits(lora: str | None) -> np.ndarray:
        llm = Llama(model_path=str(smollm2_gguf()), n_ctx=256, n_threads=1, logits_all=True,
                    verbose=False, lora_path=lora)  # fmt: skip
        llm.eval(prompt)
        return np.array(llm.scores[len(prompt) - 1])

    cpp_plain, cpp_adapted = llama_logits(None), llama_logits(str(tmp_path / "random-lora.gguf"))
    shift_hf, shift_cpp = adapted - plain, cpp_adapted - cpp_plain
    assert np.corrcoef(shift_hf, shift_cpp)[0, 1] > 0.9


def test_anypix_train_planner_trains_and_says_how_to_use_the_adapter(
    tiny_llama: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from anypix.cli import app

    args = ["train", "planner", "--base", str(tiny_llama), "--steps", "1", "--batch", "1",
            "--rank", "2", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "w")]  # fmt: skip
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "w" / ADAPTER_FILE).exists()
    assert f"ANYPIX_MODEL_PATHS__PLANNER={tmp_path / 'w'}" in done.stdout
    refused = CliRunner().invoke(app, [*args[:-4], "--steps", "0"])
    assert refused.exit_code != 0 and "must be at least 1" in refused.stderr
    assert "Traceback" not in refused.output
