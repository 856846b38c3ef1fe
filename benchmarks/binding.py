"""Binding benchmark: embedding throughput, retrieval accuracy and latency, refinement prior.

    python benchmarks/binding.py            # tables
    python benchmarks/binding.py --json     # one JSON object
    python benchmarks/binding.py --quick    # smaller prior run (for a smoke check)
    python benchmarks/binding.py --huge     # also ImageBind-huge throughput (random weights)

* Retrieval accuracy: 60 generated scenes (a coloured object drawn in a setting, with a known
  caption "a red car on a beach") are indexed with MiniLM; each is looked up by two paraphrased
  descriptions ("the photo with the crimson automobile by the sea") written from synonym lists,
  never the caption itself. Top-1 accuracy, and how :meth:`SessionIndex.resolve` answers
  (right, wrong, or reported ambiguous).
* Retrieval latency: brute-force search over 1k and 100k indexed embeddings (384-d), median.
* Prior: trained on synthetic embedding pairs (see ``anypix.models.prior_training``); mean L2 to
  the clean embedding on a held-out split, prior vs the identity baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OBJECTS: dict[str, list[str]] = {
    "car": ["automobile"], "house": ["cottage", "home"], "tree": ["oak tree"],
    "boat": ["sailboat", "ship"], "dog": ["puppy", "hound"], "cat": ["kitten"],
    "bird": ["little bird", "songbird"], "balloon": ["party balloon"], "flower": ["blossom", "bloom"],
    "fish": ["goldfish"], "umbrella": ["parasol"], "bicycle": ["bike"], "apple": ["piece of fruit"],
    "kite": ["flying kite"], "chair": ["seat"], "cup": ["mug"], "hat": ["cap"], "lamp": ["light"],
    "guitar": ["acoustic guitar"], "clock": ["wall clock", "timepiece"],
}  # fmt: skip
COLOURS: dict[str, tuple[tuple[int, int, int], list[str]]] = {
    "red": ((220, 30, 30), ["crimson", "scarlet"]), "blue": ((30, 60, 200), ["navy", "azure"]),
    "green": ((40, 170, 60), ["emerald"]), "yellow": ((240, 210, 40), ["golden", "lemon-coloured"]),
    "purple": ((130, 50, 170), ["violet"]), "orange": ((245, 140, 20), ["tangerine"]),
    "white": ((250, 250, 250), ["snow-white"]), "black": ((15, 15, 15), ["jet-black", "dark"]),
    "pink": ((245, 150, 190), ["rosy", "pale pink"]), "brown": ((120, 75, 35), ["chocolate-brown"]),
}  # fmt: skip
PLACES: dict[str, tuple[tuple[int, int, int], list[str]]] = {
    "on a beach": ((235, 215, 160), ["at the seaside", "by the sea"]),
    "in the snow": ((235, 240, 250), ["in a snowy field", "in winter snow"]),
    "under a night sky": ((15, 20, 60), ["at night", "beneath the stars"]),
    "on green grass": ((90, 160, 70), ["on a lawn", "in a meadow"]),
    "in a kitchen": ((200, 190, 170), ["indoors by the stove", "next to the kitchen counter"]),
    "on a city street": ((110, 110, 115), ["downtown", "on an urban road"]),
    "in the desert": ((225, 180, 110), ["among sand dunes"]),
    "by a lake": ((80, 140, 190), ["near the water", "at the lakeside"]),
}
QUERY_FORMS = (
    "the photo with the {c} {o} {p}",
    "that picture of a {c} {o} {p}",
    "the image where a {c} {o} is {p}",
    "the shot showing the {c} {o} {p}",
)


def make_scenes(
    count: int = 60, size: int = 64
) -> list[tuple[str, Any, str, tuple[str, str, str]]]:
    """(name, PIL image, caption, (object, colour, place)) for ``count`` distinct scenes."""
    from PIL import Image, ImageDraw

    objects, colours, places = list(OBJECTS), list(COLOURS), list(PLACES)
    scenes = []
    for i in range(count):
        obj = objects[i % len(objects)]
        colour = colours[(i * 3 + i // len(objects)) % len(colours)]
        place = places[(i * 5 + i // len(objects) * 3) % len(places)]
        image = Image.new("RGB", (size, size), PLACES[place][0])
        draw = ImageDraw.Draw(image)
        r = size // 4 + i % 5
        box = (size // 2 - r, size // 2 - r // 2, size // 2 + r, size // 2 + r)
        shape = (draw.ellipse, draw.rectangle)[i % 2]
        shape(box, fill=COLOURS[colour][0], outline=(0, 0, 0))
        scenes.append((f"scene{i:02d}", image, f"a {colour} {obj} {place}", (obj, colour, place)))
    assert len({s[3] for s in scenes}) == count, "scenes must be distinct"
    return scenes


def make_queries(scenes: list, per_scene: int = 2, seed: int = 0) -> list[tuple[str, str]]:
    """(query, expected name): the place is always paraphrased, and the colour or the object
    (or both) is replaced by a synonym, in one of several sentence forms."""
    rng = random.Random(seed)
    queries = []
    for name, _image, _caption, (obj, colour, place) in scenes:
        for _ in range(per_scene):
            swap_colour = rng.random() < 0.5
            swap_object = (not swap_colour) or rng.random() < 0.5
            c = rng.choice(COLOURS[colour][1]) if swap_colour else colour
            o = rng.choice(OBJECTS[obj]) if swap_object else obj
            p = rng.choice(PLACES[place][1])
            queries.append((rng.choice(QUERY_FORMS).format(c=c, o=o, p=p), name))
    return queries


def retrieval_accuracy(encoder: Any, cache_root: Path, count: int = 60) -> dict[str, Any]:
    from anypix.tools.retrieve import AmbiguousReferenceError, SessionIndex

    index = SessionIndex(encoder, cache_root=cache_root)
    scenes = make_scenes(count)
    index.add_many([(name, image, "image", caption) for name, image, caption, _ in scenes])
    queries = make_queries(scenes)
    index.text_cache.embed([q for q, _ in queries], "text")  # one batch; searches hit the cache
    top1 = resolved_right = resolved_wrong = ambiguous = ambiguous_with_right = 0
    for query, expected in queries:
        hits = index.search(query, "image", k=3)
        top1 += hits[0].name == expected
        try:
            resolution = index.resolve(query)
            resolved_right += resolution.name == expected
            resolved_wrong += resolution.name != expected
        except AmbiguousReferenceError as exc:
            ambiguous += 1
            ambiguous_with_right += any(h.name == expected for h in exc.candidates)
    n = len(queries)
    return {
        "assets": count,
        "queries": n,
        "top1": top1 / n,
        "resolve_right": resolved_right / n,
        "resolve_wrong": resolved_wrong / n,
        "resolve_ambiguous": ambiguous / n,
        "ambiguous_listing_right": ambiguous_with_right / max(1, ambiguous),
    }


def _timed(fn: Any, repeats: int = 20) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def retrieval_latency(
    sizes: tuple[int, ...] = (1_000, 100_000), dim: int = 384
) -> dict[str, float]:
    import torch

    from anypix.tools.retrieve import SessionIndex

    class _NoEncoder:
        encoder_id, modalities = "bench-vectors", frozenset({"image"})

        def __init__(self) -> None:
            self.dim = dim

    out = {}
    generator = torch.Generator().manual_seed(0)
    for size in sizes:
        index = SessionIndex(_NoEncoder(), cache_root=Path(tempfile.mkdtemp()))  # type: ignore[arg-type]
        vectors = torch.nn.functional.normalize(torch.randn(size, dim, generator=generator), dim=-1)
        for i in range(size):
            index.add_embedding(f"a{i}", vectors[i], "image")
        query = vectors[size // 2] + 0.1 * torch.randn(dim, generator=generator)
        out[f"retrieval_ms_{size // 1000}k"] = _timed(
            lambda q=query, ix=index: ix.search(q, "image", 5)
        )
    return out


def _huge_encoder() -> Any:
    """ImageBind-huge with random weights (the architecture's cost; no checkpoint needed)."""
    import torch

    from anypix.models.encoders import ImageBindEncoder
    from anypix.models.imagebind import ImageBindConfig, ImageBindModel
    from anypix.models.imagebind_inputs import byte_tokenizer

    torch.manual_seed(0)
    model = ImageBindModel(ImageBindConfig.huge()).requires_grad_(False)
    return ImageBindEncoder(model, byte_tokenizer(), "imagebind-huge-random")


def throughput(huge: bool = False) -> dict[str, float]:
    import numpy as np
    import torch

    from anypix.models.encoders import ImageBindEncoder, load_encoder

    rows: dict[str, float] = {}
    minilm = load_encoder("minilm")
    texts = [f"a photo of object number {i} in a sunny place" for i in range(256)]
    minilm.embed(texts[:8], "text")
    start = time.perf_counter()
    minilm.embed(texts, "text")
    rows["minilm text"] = len(texts) / (time.perf_counter() - start)
    scenes = [s[1] for s in make_scenes(32)]
    audio = [
        (torch.from_numpy(np.sin(np.arange(32000) * (0.01 + i * 0.001)).astype("float32")), 16000)
        for i in range(8)
    ]
    models = [("imagebind-tiny", ImageBindEncoder.tiny(), 1)]
    if huge:
        models.append(("imagebind-huge (random)", _huge_encoder(), 4))
    for label, encoder, shrink in models:
        for modality, items in (("text", texts[:64]), ("image", scenes), ("audio", audio)):
            items = items[: max(2, len(items) // (8 * shrink))] if shrink > 1 else items
            encoder.embed(items[:1], modality)  # type: ignore[arg-type]
            start = time.perf_counter()
            encoder.embed(items, modality)  # type: ignore[arg-type]
            rows[f"{label} {modality}"] = len(items) / (time.perf_counter() - start)
    return rows


def prior_figures(quick: bool) -> dict[str, Any]:
    from anypix.models.prior import PriorConfig
    from anypix.models.prior_training import TrainPriorConfig, train_prior

    # A CPU-sized prior (width 128, 3 layers, batch 128): ~0.05 s a step on one core.
    steps = 300 if quick else 1500
    config = TrainPriorConfig(steps=steps, batch=128, lr=1e-3, checkpoint_every=steps)
    prior = PriorConfig(dim=384, width=128, layers=3, heads=4)
    report = train_prior(Path(tempfile.mkdtemp()), config, prior)
    return {
        "prior_config": f"dim {prior.dim}, width {prior.width}, layers {prior.layers}",
        "prior_l2": report.prior_l2,
        "identity_l2": report.identity_l2,
        "prior_per_modality": report.per_modality,
        "prior_steps": report.step,
        "prior_train_s": report.seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="a short prior run")
    parser.add_argument("--huge", action="store_true", help="also time ImageBind-huge (5 GB RAM)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(int(os.environ.get("ANYPIX_THREADS", "2")))
    from anypix.models.encoders import load_encoder

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        accuracy = retrieval_accuracy(load_encoder("minilm"), Path(tmp))
    result["retrieval_accuracy"] = accuracy["top1"]
    result["retrieval"] = accuracy
    result.update(retrieval_latency())
    result["throughput_items_per_s"] = throughput(args.huge)
    result.update(prior_figures(args.quick))
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    _print_tables(result)


def _print_tables(r: dict[str, Any]) -> None:
    acc = r["retrieval"]
    print("retrieval (MiniLM, captions)        value")
    print(f"  assets / queries                   {acc['assets']} / {acc['queries']}")
    print(f"  top-1 accuracy                     {acc['top1']:.3f}")
    print(
        f"  resolve: right / wrong / ambiguous {acc['resolve_right']:.3f} / {acc['resolve_wrong']:.3f} / {acc['resolve_ambiguous']:.3f}"
    )
    print(
        f"  latency 1k / 100k (ms, median)     {r['retrieval_ms_1k']:.2f} / {r['retrieval_ms_100k']:.2f}"
    )
    print("\nembedding throughput                items/s")
    for name, value in r["throughput_items_per_s"].items():
        print(f"  {name:<34}{value:9.1f}")
    print(
        f"\nrefinement prior ({r['prior_steps']} steps, {r['prior_train_s']:.0f} s)   prior L2   identity L2"
    )
    print(f"  held-out, all                      {r['prior_l2']:.3f}      {r['identity_l2']:.3f}")
    for name, (p, i) in r["prior_per_modality"].items():
        print(f"  held-out, {name:<25}{p:.3f}      {i:.3f}")


if __name__ == "__main__":
    main()
