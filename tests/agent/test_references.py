"""References by file name and by description (retrieval), ambiguity reported, never guessed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

from anypix.agent.llm import FakeLLM
from anypix.agent.planner import Planner
from anypix.agent.references import References
from anypix.errors import UnknownAssetError
from anypix.tools.retrieve import AmbiguousReferenceError, SessionIndex

sys.path.insert(0, str(Path(__file__).parents[1] / "binding"))
from fakes import BagOfWordsEncoder

ASSETS = {"photo": "image", "dog": "image", "car": "image", "bus": "image"}
FILES = {"photo": "/home/me/Pictures/beach.PNG", "dog": "IMG_0042.jpg"}


def _index(captions: dict[str, str]) -> SessionIndex:
    index = SessionIndex(BagOfWordsEncoder())  # text only: assets are found by their captions
    for name, caption in captions.items():
        index.add(name, Image.new("RGB", (4, 4), (len(name), 0, 0)), "image", caption)
    return index


CAPTIONS = {
    "photo": "a sandy beach with blue sea",
    "dog": "a brown dog sitting on grass",
    "car": "a red car parked on a street",
    "bus": "a yellow school bus",
}


def test_a_file_name_reference_is_the_asset_attached_from_that_file() -> None:
    refs = References(files=FILES)
    result = Planner(None).plan("add [IMG_0042.jpg] to [beach.png]", ASSETS, references=refs)
    assert result.source == "fast"
    assert (result.plan.base, result.plan.subs) == ("photo", ["dog"])  # base name, any case


def test_an_attachments_file_name_written_bare_is_that_attachment() -> None:
    attached = References(files={"dog": FILES["dog"]})  # the one attachment of this turn
    result = Planner(None).plan("brighten up img_0042.JPG", ASSETS, references=attached)
    assert (result.plan.base, result.plan.ops[0].op) == ("dog", "restyle")
    refs = References(files=FILES)
    assert refs.rewrite("add [dog] to beach.png.", ASSETS) == "add [dog] to [photo]."
    # a file name inside a longer word, or inside a bracket, is left alone
    assert refs.rewrite("see xbeach.png and [beach.png]", ASSETS) == "see xbeach.png and [photo]"


def test_a_file_name_written_without_its_extension_is_that_attachment() -> None:
    """ "put IMG_2231 into IMG_2230": a stem with a digit is a file name (it asked which image
    to edit); a stem that is a plain word ("beach" of beach.png) stays a word."""
    refs = References(files={"park": "IMG_2230.jpg", "dog": "IMG_2231.png"})
    assets = {"park": "image", "dog": "image"}
    result = Planner(None).plan("put IMG_2231 into IMG_2230", assets, references=refs)
    assert (result.plan.base, result.plan.subs) == ("park", ["dog"])
    assert refs.rewrite("put [img_2231] on the left", assets) == "put [dog] on the left"
    assert References(files=FILES).rewrite("a beach at night", ASSETS) == "a beach at night"
    # a stem followed by another extension is another file's name
    twins = References(files={"park": "IMG_1.jpg", "dog": "IMG_1.png"})
    assert twins.rewrite("put IMG_1.png on IMG_1", assets) == "put [dog] on [park]"


def test_an_unknown_file_name_is_still_an_unknown_asset() -> None:
    with pytest.raises(UnknownAssetError, match=r"\[IMG_9999.jpg\] is not in this session"):
        Planner(None).plan("add [IMG_9999.jpg] to [photo]", ASSETS, references=References(FILES))


def test_a_description_is_resolved_through_retrieval_and_only_then_builds_the_index() -> None:
    built: list[SessionIndex] = []

    def build() -> SessionIndex:
        built.append(_index(CAPTIONS))
        return built[-1]

    # [dog] comes with this instruction; the others were attached earlier
    refs = References(files={"dog": FILES["dog"]}, index=build)
    Planner(None).plan("add [dog] to [photo]", ASSETS, references=refs)
    assert built == []  # names alone never load the encoder
    result = Planner(None).plan(
        "add [dog] to [the photo with the red car]", ASSETS, references=refs
    )
    assert (result.plan.base, result.plan.subs) == ("car", ["dog"])
    assert len(built) == 1


def test_recency_descriptions_resolve_by_arrival_order() -> None:
    refs = References(index=_index(CAPTIONS))
    result = Planner(None).plan("add [dog] to [the last picture]", ASSETS, references=refs)
    assert result.plan.base == "bus"


def test_an_ambiguous_description_fails_listing_the_candidates() -> None:
    index = _index({**CAPTIONS, "car": "a red car", "bus": "a red car"})
    with pytest.raises(AmbiguousReferenceError) as caught:
        Planner(None).plan("add [dog] to [the red car]", ASSETS, references=References(index=index))
    assert {h.name for h in caught.value.candidates} == {"car", "bus"}
    line = caught.value.message
    assert "\n" not in line and "[car]" in line and "[bus]" in line and "could mean" in line


def test_an_ambiguous_name_from_the_llm_is_fed_back_and_repaired() -> None:
    index = _index({**CAPTIONS, "car": "a red car", "bus": "a red car"})
    plan = {"base": "the red car", "subs": ["dog"], "style_ref": None, "gen": "a dog",
            "ops": [{"op": "add", "target": "a dog", "ref": "dog"}]}  # fmt: skip
    fake = FakeLLM([plan, {**plan, "base": "IMG_0042.jpg", "subs": [], "ops": [
        {"op": "recolor", "target": "the dog, dark green", "ref": None}]}])  # fmt: skip
    refs = References(files=FILES, index=index)
    result = Planner(fake, fast_path=False, use_minilm=False).plan(
        "put the dog by the red car", ASSETS, references=refs
    )
    assert result.attempts == 2 and "could mean" in result.errors[0]
    assert "[car]" in result.errors[0] and "[bus]" in result.errors[0]
    repair = fake.requests[1][0][-1]["content"]
    assert "could mean" in repair  # the model was told which candidates there are
    assert result.plan.base == "dog"  # a file name the model used resolves too


def test_a_file_name_with_its_folders_is_that_attachment() -> None:
    """ "remove the watermark from ~/Pictures/IMG_4410.jpg": the path's folders go with it (the
    planner said every image attached was used otherwise)."""
    refs = References(files={"photo": "IMG_4410.jpg", "lake": "lake.png"})
    assets = {"photo": "image", "lake": "image"}
    assert refs.rewrite("remove the watermark from ~/Pictures/IMG_4410.jpg", assets) == (
        "remove the watermark from [photo]"
    )
    assert refs.rewrite("add a canoe to photos/lake.png", assets) == "add a canoe to [lake]"
    assert refs.rewrite("add a canoe to ./lake.png", assets) == "add a canoe to [lake]"
