"""Which runtime serves the planner model fastest: llama.cpp (Q4_1 GGUF, JSON-schema grammar) or
transformers (the same weights dequantised to fp32, greedy, no constraint: a lower bound on what a
constrained decoder would cost). Short prompt, model loaded once and kept warm, one plan per row,
both capped at the same number of answer tokens.

    python benchmarks/planner_runtime.py --rows 10 --threads 2
    python benchmarks/planner_runtime.py --adapter runs/planner/weights   # with a trained adapter

Prints set-up seconds, median and p95 seconds per plan (wall clock, and CPU seconds of the
process: on a shared machine the wall clock says more about the neighbours than the runtime),
tokens per plan, and how many answers parse as JSON, per runtime.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from anypix.agent.prompting import plan_schema, short_plan_messages  # noqa: E402

CAP = 60  # answer tokens per plan for both runtimes: a trained plan is 40-60 tokens


def rows(count: int) -> list[dict[str, Any]]:
    path = ROOT / "data" / "everyday-edit-heldout.jsonl"
    found = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return found[:count]


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def _summary(name: str, setup: float, seconds: list[tuple[float, float]], tokens: list[int],
             parsed: int) -> dict[str, Any]:  # fmt: skip
    wall, cpu = [s[0] for s in seconds], [s[1] for s in seconds]
    return {"runtime": name, "setup_s": round(setup, 2), "rows": len(seconds),
            "median_s": round(statistics.median(wall), 3), "p95_s": round(_p95(wall), 3),
            "cpu_median_s": round(statistics.median(cpu), 3), "cpu_p95_s": round(_p95(cpu), 3),
            "tokens_per_plan": round(statistics.fmean(tokens), 1), "json_ok": parsed}  # fmt: skip


class _Clock:
    """Wall and CPU seconds of one plan."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = (time.perf_counter() - self.wall, time.process_time() - self.cpu)


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def llama_cpp(sample: list[dict[str, Any]], threads: int, adapter: Path | None) -> dict[str, Any]:
    from anypix.agent.llm import _open_llama, smollm2_gguf

    start = time.perf_counter()
    llm = _open_llama(str(smollm2_gguf()), threads, 1024, str(adapter) if adapter else None)
    setup = time.perf_counter() - start
    seconds, tokens, parsed = [], [], 0
    for row in sample:
        messages = short_plan_messages(row["instruction"], row["assets"], row.get("files"))
        with _Clock() as clock:
            answer = llm.create_chat_completion(
                messages=messages, temperature=0.0, max_tokens=CAP, seed=0,
                response_format={"type": "json_object", "schema": plan_schema(row["assets"])},
            )  # fmt: skip
        seconds.append(clock.seconds)
        tokens.append(answer["usage"]["completion_tokens"])
        parsed += _parses(answer["choices"][0]["message"]["content"] or "")
    return _summary("llama.cpp + grammar", setup, seconds, tokens, parsed)


def transformers_greedy(sample: list[dict[str, Any]], threads: int) -> dict[str, Any]:
    import torch

    from anypix.agent.finetune import load_base

    torch.set_num_threads(threads)
    start = time.perf_counter()
    model, tokenizer = load_base("")
    model.eval()
    setup = time.perf_counter() - start
    seconds, tokens, parsed = [], [], 0
    for row in sample:
        messages = short_plan_messages(row["instruction"], row["assets"], row.get("files"))
        with _Clock() as clock, torch.inference_mode():
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                return_tensors="pt", return_dict=True)  # fmt: skip
            out = model.generate(**ids, max_new_tokens=CAP, do_sample=False)
        new = out[0, ids["input_ids"].shape[1] :]
        seconds.append(clock.seconds)
        tokens.append(len(new))
        parsed += _parses(tokenizer.decode(new, skip_special_tokens=True))
    return _summary("transformers fp32 greedy", setup, seconds, tokens, parsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--adapter", type=Path, help="GGUF LoRA adapter for llama.cpp")
    parser.add_argument("--runtimes", default="llama.cpp,transformers")
    args = parser.parse_args()
    sample = rows(args.rows)
    for runtime in args.runtimes.split(","):
        if runtime == "llama.cpp":
            report = llama_cpp(sample, args.threads, args.adapter)
        elif runtime == "transformers":
            report = transformers_greedy(sample, args.threads)
        else:
            raise SystemExit(f"unknown runtime {runtime!r}")
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
