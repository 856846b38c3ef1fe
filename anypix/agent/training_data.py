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
plain words ("the beach photo", "it", "the picture", "the song"); audio as a subject and as a
style; style references; compound instructions; layouts with counts (digits, words, "a pair of")
and relations; everyday phrasings ("X should be gone", "let the man wear Y", "what if the car was
blue?"). Noise is added on top: typos in the verb, casing, politeness, trailing punctuation.
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
from anypix.plan import Blob

OBJECTS = ["dog", "cat", "car", "bicycle", "lamp", "chair", "tree", "boat", "bench", "umbrella",
           "hat", "vase", "sofa", "bird", "horse", "kite", "clock", "mug", "fence", "sign",
           "ladder", "bus", "plant", "table", "balloon", "door", "window", "rug", "guitar"]  # fmt: skip
SHAPES = ["circle", "square", "ball", "box", "star", "ring", "triangle", "heart", "rectangle",
          "moon", "dot", "cube"]  # fmt: skip
SCENES = ["photo", "beach", "street", "kitchen", "garden", "room", "park", "lake", "office",
          "yard", "city", "forest", "field", "harbour", "porch", "desk", "shop", "alley"]  # fmt: skip
SOUNDS = ["rain", "birds", "siren", "waves", "thunder", "crickets", "jazz", "wind", "bells"]
STYLES = ["monet", "klimt", "hokusai", "sketch", "poster", "noir", "film", "ref", "vangogh"]
COLOURS = ["red", "blue", "green", "yellow", "purple", "pink", "orange", "white", "black",
           "silver", "gold", "dark green", "light blue", "bright red", "teal"]  # fmt: skip
LOOKS = ["snowy", "look like night", "look like autumn", "look like a watercolour", "foggy",
         "look like a pencil sketch", "feel like sunset", "look like an oil painting", "rainy",
         "look like an old postcard"]  # fmt: skip
PLACES = ["on the left", "on the right", "in the top left corner", "at the bottom",
          "in the middle", "in the top right corner"]  # fmt: skip
DIRECTIONS = ["to the left", "to the right", "up a bit", "down a little", "closer to the door",
              "to the top", "a little to the left"]  # fmt: skip
NUMBERS = {2: ["2", "two", "a pair of", "a couple of"], 3: ["3", "three"], 4: ["4", "four"],
           5: ["5", "five"], 6: ["6", "six", "half a dozen"], 12: ["12", "twelve", "a dozen"]}  # fmt: skip
RELATIONS = {"left_of": ["to the left of", "left of"], "right_of": ["to the right of"],
             "above": ["above", "over", "on top of"], "below": ["below", "under", "underneath"],
             "next_to": ["next to", "beside"]}  # fmt: skip


Clause = tuple[str, dict[str, Any], list[str], "str | None"]  # text, op, subs, style reference


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


def _op(kind: str, target: str = "", ref: str | None = None) -> dict[str, Any]:
    return {"op": kind, "target": target, "ref": ref}


def _plan(base: str | None, ops: list[dict[str, Any]], gen: str, subs: list[str] | None = None,
          style: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"base": base, "subs": subs or [], "style_ref": style, "ops": ops, "gen": gen}


class _Writer:
    """Draws one pair at a time from the templates below."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, items: list[str]) -> str:
        return self.rng.choice(items)

    def the(self, noun: str) -> str:
        return self.pick([f"the {noun}", f"the {noun}", f"that {noun}"])

    # -- how the image edited is named ------------------------------------------------------------
    def base_ref(self, assets: dict[str, str], files: dict[str, str]) -> tuple[str, str]:
        """(the asset edited, the words that name it): its [name], its [file name], "it" with
        one image attached, or "it"/"the picture" inside a session."""
        form = self.rng.random()
        if form < 0.15:  # a session: the current image
            assets["last"] = "image"
            return "last", self.pick(["it", "this", "the picture", "the image", "[last]"])
        name = self.pick(SCENES)
        assets[name] = "image"
        files[name] = f"{name}.jpg"
        if form < 0.45:
            return name, self.pick(["it", "this", "the photo", "the picture", f"the {name} photo"])
        if form < 0.6:
            files[name] = self.pick([f"IMG_{self.rng.randint(1000, 9999)}.jpg", f"{name}_01.png"])
            return name, f"[{files[name]}]"
        return name, f"[{name}]"

    def sub_ref(self, assets: dict[str, str], files: dict[str, str], audio: bool) -> str:
        name = self.pick(SOUNDS if audio else OBJECTS)
        while name in assets:
            name += "2"
        assets[name] = "audio" if audio else "image"
        files[name] = f"{name}.{'wav' if audio else 'png'}"
        return name

    def style_ref(self, assets: dict[str, str], files: dict[str, str], audio: bool) -> str:
        name = self.pick(SOUNDS if audio else STYLES)
        while name in assets:
            name += "2"
        assets[name] = "audio" if audio else "image"
        files[name] = f"{name}.{'wav' if audio else 'jpg'}"
        return name

    # -- one clause per op: (text, op, subs, style) -----------------------------------------------
    def clause(self, kind: str, where: str, assets: dict[str, str], files: dict[str, str]
               ) -> Clause:  # fmt: skip
        """One clause of ``kind`` about the image named by ``where`` (subjects and style
        references it needs join ``assets`` and ``files``)."""
        obj = self.pick(OBJECTS)
        in_base = self.pick([f" in {where}", f" from {where}", ""]) if where.startswith("[") else ""
        writers: dict[str, Callable[[], Clause]] = {
            "add": lambda: self._add(obj, where, in_base, assets, files),
            "remove": lambda: self._remove(obj, in_base),
            "replace": lambda: self._replace(obj),
            "recolor": lambda: self._recolor(obj),
            "move": lambda: self._move(obj),
            "variation": lambda: self._variation(where),
            "restyle": lambda: self._restyle(where, assets, files),
        }
        return writers[kind]()

    def _add(self, obj: str, where: str, in_base: str, assets: dict[str, str],
             files: dict[str, str]) -> Clause:  # fmt: skip
        if self.rng.random() < 0.35:  # an attached subject: an image or a sound
            sub = self.sub_ref(assets, files, audio=self.rng.random() < 0.3)
            text = self.pick([f"add [{sub}] to {where}", f"put [{sub}] in {where}",
                              f"add [{sub}]", f"could you add [{sub}] {self.pick(PLACES)}"])  # fmt: skip
            return text, _op("add", sub, sub), [sub], None
        text = self.pick([f"add a {obj}{in_base}", f"put a {obj} {self.pick(PLACES)}",
                          f"let there be a {obj}", f"have the man wear a {obj}",
                          f"give the dog a {obj}", f"how about a {obj}?"])  # fmt: skip
        return text, _op("add", f"a {obj}"), [], None

    def _remove(self, obj: str, in_base: str) -> Clause:
        text = self.pick([f"remove {self.the(obj)}{in_base}", f"get rid of {self.the(obj)}",
                          f"{self.the(obj)} should be gone", f"take {self.the(obj)} away",
                          f"erase {self.the(obj)}", f"no more {_plural(obj)}",
                          f"there shouldn't be a {obj}"])  # fmt: skip
        return text, _op("remove", f"the {obj}"), [], None

    def _replace(self, obj: str) -> Clause:
        new = self.pick([o for o in OBJECTS if o != obj])
        text = self.pick([f"replace {self.the(obj)} with a {new}", f"swap the {obj} for a {new}",
                          f"the {obj} should be a {new}", f"turn the {obj} into a {new}"])  # fmt: skip
        return text, _op("replace", f"the {obj} with a {new}"), [], None

    def _recolor(self, obj: str) -> Clause:
        colour = self.pick(COLOURS)
        text = self.pick([f"make {self.the(obj)} {colour}", f"paint the {obj} {colour}",
                          f"what if the {obj} was {colour}?", f"the {obj} should be {colour}",
                          f"change the colour of the {obj} to {colour}"])  # fmt: skip
        return text, _op("recolor", f"the {obj} {colour}"), [], None

    def _move(self, obj: str) -> Clause:
        if self.rng.random() < 0.5:
            direction = self.pick(DIRECTIONS)
            text = self.pick([f"move {self.the(obj)} {direction}", f"shift the {obj} {direction}"])
        else:
            direction = self.pick(PLACES)
            text = self.pick([f"the {obj} should be {direction}", f"move the {obj} {direction}"])
        return text, _op("move", f"the {obj} {direction}"), [], None

    def _variation(self, where: str) -> Clause:
        target = where if where.startswith("[") else "it"
        text = self.pick([f"make a variation of {target}", "try another version of this",
                          f"give me another version of {target}", f"remix {target}"])  # fmt: skip
        return text, _op("variation"), [], None

    def _restyle(self, where: str, assets: dict[str, str], files: dict[str, str]) -> Clause:
        """In words ("make it snowy"), after an image ("like [monet]") or a sound."""
        if self.rng.random() < 0.5:
            look = self.pick(LOOKS)
            text = self.pick([f"make it {look}", f"make {where} {look}"])
            return text, _op("restyle", look.removeprefix("look ").removeprefix("feel ")), [], None
        audio = self.rng.random() < 0.35
        style = self.style_ref(assets, files, audio)
        text = self.pick([f"make it feel like [{style}]", f"make it sound like [{style}]",
                          f"match the mood of [{style}]"] if audio else
                         [f"make it feel like [{style}]", f"paint it in the style of [{style}]",
                          f"make it look like [{style}]", f"restyle it like [{style}]"])  # fmt: skip
        return text, _op("restyle", "", style), [], style

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
        return Pair(assets, instruction, _plan(base, ops, gen or "the same scene", subs, style),
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
                phrases.append(f"{self.pick(NUMBERS[count])} {colour}{_plural(noun)}")
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
        assets: dict[str, str] = {}
        files: dict[str, str] = {}
        text, _ = self.scene()
        style = None
        if self.rng.random() < 0.3:
            style = self.style_ref(assets, files, audio=self.rng.random() < 0.3)
            text += self.pick([f" in the style of [{style}]", f", like [{style}]"])
        instruction = self.pick([text, f"draw {text}", f"I need a picture of {text}",
                                 f"can you draw {text}?", f"generate {text}"])  # fmt: skip
        gen = text.split(" in the style of ")[0].split(", like [")[0]
        return Pair(assets, instruction, _plan(None, [_op("generate")], gen, style=style),
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
        if r() < 0.12:
            text = _typo(text, self.rng)
        if r() < 0.15 and verb_of(text) is not None:
            text = f"{self.pick(['please ', 'could you ', 'can you ', 'now ', 'ok '])}{text}"
        if r() < 0.1:
            text = self.pick([text.upper(), text.title(), text.capitalize()])
            text = _keep_names(text)
        if r() < 0.15:
            text = text.rstrip("?.!") + self.pick([".", "!", " please", "?"])
        return text


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _css(blob: Blob, side: int = 512) -> str:
    """One BlobGEN rule in whole pixels on a ``side``-pixel canvas."""
    return (
        f"{blob.label} {{major-radius: {round(blob.a * side)}px; "
        f"minor-radius: {round(blob.b * side)}px; cx: {round(blob.cx * side)}px; "
        f"cy: {round(blob.cy * side)}px; angle: {round(blob.angle)}}}"
    )


def _typo(text: str, rng: random.Random) -> str:
    """One slip in the first word: two letters swapped, one doubled or one dropped."""
    first, _, rest = text.partition(" ")
    if len(first) < 4 or not first.isalpha():
        return text
    i = rng.randrange(1, len(first) - 2)
    slips = [first[:i] + first[i + 1] + first[i] + first[i + 2 :], first[:i] + first[i] + first[i:],
             first[:i] + first[i + 1 :]]  # fmt: skip
    return f"{rng.choice(slips)} {rest}".strip()


def _keep_names(text: str) -> str:
    """Casing noise never touches [names]: they must still match the assets."""
    return re.sub(r"\[([^\]]*)\]", lambda m: f"[{m.group(1).lower()}]", text)


def generate_pairs(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` records (see the module docstring): about 60% edits (a third of them
    compounds), 25% new pictures, 15% layouts."""
    writer = _Writer(random.Random(seed))
    makers: list[tuple[float, Callable[[], Pair]]] = [
        (0.4, lambda: writer.edit_pair(1)),
        (0.2, lambda: writer.edit_pair(writer.rng.choice([2, 3]))),
        (0.25, writer.generate_pair),
        (0.15, writer.layout_pair),
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
