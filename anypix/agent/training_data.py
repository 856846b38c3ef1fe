"""Instruction/plan pairs for teaching a small LLM the plan language (InstructAny2Pix fine-tunes
its LLM on such pairs; anypix's SmolLM2-135M was never taught it).

    pairs = generate_pairs(2000, seed=0)
    python -m anypix.agent.training_data --count 20000 --seed 0 --out planner-train.jsonl

A pair is what the planner's LLM sees and what it should answer: the assets (``{name: image |
audio}``; ``last`` is a session's current image), this turn's attachments with their file names,
the instruction, and the plan in the planner's JSON schema (``base``, ``subs``, ``style_ref``,
``ops``, ``gen``) -- the format of ``prompts/plan_examples.jsonl``. Layout pairs carry BlobGEN's CSS
for a description instead (``prompts/layout_examples.jsonl``'s format), from the layout solver.

The templates cover every op; references by asset name, by file name (``[IMG_0042.jpg]``) and by
plain words ("the beach photo", "it", "the picture", "the song"), with this turn's attachment as
the base even inside a session; audio as a subject and as a style; style references; compound
instructions; layouts with counts (digits, words, "a pair of") and relations; everyday phrasings
("X should be gone", "let the man wear Y", "what if the car was blue?", "swap out X for [ref]",
"scoot the lamp over", "same vibe as [ref]"). The vocabularies (:mod:`training_vocab`) are wide
(about 230 objects, 80 scene names, 35 sounds, 30 styles) so that no noun is new at test time
by accident. Noise is added on top: typos anywhere, casing (mixed case too, never inside
[names]), politeness, trailing punctuation.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anypix.agent.layout import scene_blobs
from anypix.agent.phrases import verb_of
from anypix.agent.training_clauses import ClauseWriter, op_json, plan_json, plural
from anypix.agent.training_vocab import COLOURS, DESCRIPTIONS, NUMBERS, OBJECTS, RELATIONS, SHAPES
from anypix.plan import Blob


@dataclass
class Pair:
    """One training example: the question the planner's LLM gets and the plan it should give."""

    assets: dict[str, str]
    instruction: str
    plan: dict[str, Any] | None = None  # the planner's JSON (task "plan")
    css: str | None = None  # BlobGEN CSS (task "layout")
    files: dict[str, str] = field(default_factory=dict)  # this turn's attachments -> file names

    def record(self) -> dict[str, Any]:
        task = "plan" if self.plan is not None else "layout"
        out: dict[str, Any] = {"task": task, "assets": self.assets, "files": self.files}
        if task == "plan":
            out.update(instruction=self.instruction, plan=self.plan)
        else:
            out.update(prompt=self.instruction, css=self.css)
        return out


class _Writer(ClauseWriter):
    """Draws one pair at a time: clauses joined into edits, new pictures, layouts, and noise."""

    # -- whole pairs --------------------------------------------------------------------------------
    def edit_pair(self, clauses: int) -> Pair:
        assets: dict[str, str] = {}
        files: dict[str, str] = {}
        base, where = self.base_ref(assets, files)
        kinds = self.rng.sample(["add", "remove", "replace", "recolor", "move", "restyle"],
                                clauses) if clauses > 1 else [self.pick(
                                    ["add", "remove", "replace", "recolor", "move", "restyle",
                                     "variation"])]  # fmt: skip
        texts, ops, subs, style = [], [], [], None
        for kind in kinds:  # each kind once: at most one subject and one style reference
            text, op, new_subs, new_style = self.clause(kind, where, assets, files)
            texts.append(text)
            ops.append(op)
            subs += new_subs
            style = style or new_style
        if where.startswith("[") and not any("[" in t for t in texts):
            texts[0] = f"{texts[0].rstrip('?')} in {where}"
        instruction = self.join(texts)
        gen = "; ".join(op["target"] for op in ops if op["target"] and op["op"] != "remove")
        return Pair(assets, instruction, plan_json(base, ops, gen or "the same scene", subs, style),
                    files=files)  # fmt: skip

    def scene(self, most: int = 24) -> tuple[str, str]:
        """A description with counts and relations (at most ``most`` objects), and its BlobGEN
        CSS from the solver, in whole pixels as the planner's layout schema asks."""
        nouns = self.rng.sample(SHAPES + OBJECTS[:12], 2)
        counts = [1, 1]
        while True:
            counts = [self.rng.choice([1, 1, 1, 2, 3, 4, 5, 6, 12]) for _ in nouns]
            if sum(counts) <= most:
                break
        phrases = []
        for noun, count in zip(nouns, counts, strict=True):
            colour = self.pick(["", "", f"{self.pick(COLOURS)} "])
            if count == 1:
                phrases.append(f"{'an' if (colour or noun)[0] in 'aeiou' else 'a'} {colour}{noun}")
            else:
                phrases.append(f"{self.pick(NUMBERS[count])} {colour}{plural(noun)}")
        form = self.rng.random()
        if form < 0.5:
            relation = self.pick(list(RELATIONS))
            text = f"{phrases[0]} {self.pick(RELATIONS[relation])} {phrases[1]}"
        elif form < 0.75:
            text = f"{phrases[0]} on the left and {phrases[1]} on the right"
        else:
            text = f"{phrases[0]} and {phrases[1]}"
        css = "\n".join(_css(blob) for blob in scene_blobs(text))
        return text, css

    def generate_pair(self) -> Pair:
        """A new picture: a counted layout or a described scene, now and then after a style
        image or a sound, and now and then inside a session (asked for as a new picture)."""
        assets: dict[str, str] = {}
        files: dict[str, str] = {}
        text = self.scene()[0] if self.rng.random() < 0.6 else self.pick(DESCRIPTIONS)
        gen, style = text, None
        if self.rng.random() < 0.4:
            audio = self.rng.random() < 0.4
            style = self.style_ref(assets, files, audio)
            ref = f"[{style}]"
            text += self.pick([f" that sounds like {ref}", f" that feels like {ref}",
                               f" with the mood of {ref}", f", feeling like {ref}"] if audio else
                              [f" in the style of {ref}", f", like {ref}", f" painted like {ref}",
                               f" the way {ref} would paint it", f" with the look of {ref}",
                               f" in {ref}'s style"])  # fmt: skip
        prefixes = ["", "draw ", "I need a picture of ", "can you draw ", "generate ", "make me ",
                    "show me ", "paint ", "create ", "I'd like ", "picture "]  # fmt: skip
        if self.rng.random() < 0.1:  # inside a session: a new picture, not an edit of it
            assets["last"] = "image"
            prefixes = ["draw a new picture of ", "start over with ", "new image: ",
                        "forget that, draw "]  # fmt: skip
        instruction = self.pick(prefixes) + text
        return Pair(assets, instruction, plan_json(None, [op_json("generate")], gen, style=style),
                    files=files)  # fmt: skip

    def layout_pair(self) -> Pair:
        text, css = self.scene(most=8)  # the layout schema holds eight rules
        return Pair({}, text, css=css)

    def join(self, texts: list[str]) -> str:
        if len(texts) == 1:
            return texts[0]
        joiner = self.pick([", ", " and ", ", then ", ". "])
        return joiner.join(t.rstrip("?") for t in texts)

    # -- noise -------------------------------------------------------------------------------------
    def noisy(self, text: str) -> str:
        """Politeness, casing, typos and punctuation as people type them."""
        r = self.rng.random
        if r() < 0.2:
            text = _typo(text, self.rng)
        if r() < 0.15 and verb_of(text) is not None:
            text = self.pick(["please ", "could you ", "can you ", "now ", "ok ", "hey, ",
                              "nice, now ", "actually, ", "hmm, ", "ok so ", "great. now "]) + text  # fmt: skip
        if r() < 0.15:
            case = self.pick(["upper", "title", "capitalize", "mixed", "lower"])
            text = _outside_names(text, lambda part: _cased(part, case, self.rng))
        if r() < 0.15:
            text = text.rstrip("?.!") + self.pick([".", "!", " please", "?", " thanks", " pls"])
        return text


def _css(blob: Blob, side: int = 512) -> str:
    """One BlobGEN rule in whole pixels on a ``side``-pixel canvas."""
    return (
        f"{blob.label} {{major-radius: {round(blob.a * side)}px; "
        f"minor-radius: {round(blob.b * side)}px; cx: {round(blob.cx * side)}px; "
        f"cy: {round(blob.cy * side)}px; angle: {round(blob.angle)}}}"
    )


def _typo(text: str, rng: random.Random) -> str:
    """One slip in a word outside the [names]: two letters swapped, one doubled or one dropped."""
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not spots:
        return text
    k = rng.choice(spots[:1] * 2 + spots)  # the verb most often
    word = words[k]
    i = rng.randrange(1, len(word) - 2)
    words[k] = rng.choice([word[:i] + word[i + 1] + word[i] + word[i + 2 :],
                           word[:i] + word[i] + word[i:], word[:i] + word[i + 1 :]])  # fmt: skip
    return " ".join(words)


def _cased(text: str, case: str, rng: random.Random) -> str:
    if case == "mixed":  # "mAkE tHe CaR bLuE"
        return "".join(c.upper() if (i + rng.randint(0, 1)) % 2 else c.lower()
                       for i, c in enumerate(text))  # fmt: skip
    return str(getattr(text, case)())


def _outside_names(text: str, change: Callable[[str], str]) -> str:
    """``change`` applied to the text between [names]: names must still match the assets."""
    parts = re.split(r"(\[[^\]]*\])", text)
    return "".join(p if p.startswith("[") else change(p) for p in parts)


def generate_pairs(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` records (see the module docstring): about 62% edits (a third of them
    compounds), 28% new pictures, 10% layouts."""
    writer = _Writer(random.Random(seed))
    makers: list[tuple[float, Callable[[], Pair]]] = [
        (0.42, lambda: writer.edit_pair(1)),
        (0.2, lambda: writer.edit_pair(writer.rng.choice([2, 3]))),
        (0.28, writer.generate_pair),
        (0.1, writer.layout_pair),
    ]
    records = []
    shares, kinds = zip(*makers, strict=True)
    for _ in range(count):
        make = writer.rng.choices(kinds, weights=shares)[0]
        pair = make()
        if pair.plan is not None:  # layout prompts stay descriptions
            pair.instruction = writer.noisy(pair.instruction)
        records.append(pair.record())
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description="write instruction/plan training pairs")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("planner-train.jsonl"))
    args = parser.parse_args()
    with args.out.open("w") as handle:
        for record in generate_pairs(args.count, args.seed):
            handle.write(json.dumps(record) + "\n")
    print(f"{args.count} pairs -> {args.out}")


if __name__ == "__main__":
    main()
