"""Defaults a person expects: one attachment and no brackets edits that attachment; inside a
session, "it", "this", "the picture" and an edit that names no image edit the current image."""

from __future__ import annotations

import pytest

from anypix.agent.grammar import parse_instruction
from anypix.agent.llm import FakeLLM
from anypix.agent.planner import Planner
from anypix.agent.references import References
from anypix.errors import NotCanonicalError, NothingToEditError
from anypix.plan import EditPlan

IMG, AUDIO = "image", "audio"


def kinds(plan: EditPlan) -> list[str]:
    return [op.op for op in plan.ops]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("let the man wear sunglasses", ["add"]),
        ("what if the car was blue?", ["recolor"]),
        ("colorize it", ["restyle"]),
        ("make it snowy", ["restyle"]),
        ("the trash bins should be gone", ["remove"]),
        ("swap the cat for a rabbit", ["replace"]),
        ("take the ladder away", ["remove"]),
        ("remvoe the car", ["remove"]),
    ],
)
def test_one_attachment_without_brackets_is_the_image_edited(
    text: str, expected: list[str]
) -> None:
    plan = parse_instruction(text, {"photo": IMG})
    assert plan.base == "photo" and kinds(plan) == expected


def test_the_attachment_left_after_references_is_the_base() -> None:
    # [poster] is the style, so the other attachment is the image edited
    plan = parse_instruction("make it look like [poster]", {"photo": IMG, "poster": IMG})
    assert (plan.base, plan.style_ref, kinds(plan)) == ("photo", "poster", ["restyle"])
    sound = parse_instruction("make the photo feel like the song", {"beach": IMG, "song": AUDIO})
    assert (sound.base, sound.style_ref) == ("beach", "song")


@pytest.mark.parametrize(
    "text",
    ["make it snowy", "turn the picture into a watercolour", "now remove the hat",
     "add a second dog to this", "try another version of this"],
)  # fmt: skip
def test_inside_a_session_an_unnamed_image_is_the_current_one(text: str) -> None:
    # [beach] was attached in an earlier turn; nothing is attached to this one
    plan = parse_instruction(text, {"last": IMG, "beach": IMG}, attached=[])
    assert plan.base == "last"


def test_an_image_attached_this_turn_wins_over_the_current_one() -> None:
    plan = parse_instruction("make it snowy", {"last": IMG, "beach": IMG}, attached=["beach"])
    assert plan.base == "beach"


def test_a_subject_attached_this_turn_is_added_to_the_current_image() -> None:
    plan = parse_instruction(
        "put [hat] on the man in the picture", {"last": IMG, "hat": IMG}, attached=["hat"]
    )
    assert (plan.base, plan.subs, kinds(plan)) == ("last", ["hat"], ["add"])


def test_the_planner_knows_this_turns_attachments_from_its_references() -> None:
    assets = {"last": IMG, "beach": IMG}
    earlier = Planner(None).plan("make it snowy", assets, references=References(files={}))
    attached = Planner(None).plan(
        "make it snowy", assets, references=References(files={"beach": "IMG_1.jpg"})
    )
    assert (earlier.plan.base, attached.plan.base) == ("last", "beach")


def test_file_names_name_this_turns_attachments() -> None:
    files = {"photo": "IMG_0042.jpg", "dog": "dog_2.png"}
    result = Planner(None).plan(
        "add [dog_2.png] to [IMG_0042.jpg]",
        {"photo": IMG, "dog": IMG},
        references=References(files),
    )
    assert (result.plan.base, result.plan.subs) == ("photo", ["dog"])


def test_an_llm_plan_without_a_base_gets_the_same_default() -> None:
    answer = {"base": None, "subs": [], "style_ref": None, "gen": "the same scene at night",
              "ops": [{"op": "restyle", "target": "at night", "ref": None}]}  # fmt: skip
    fake = FakeLLM([answer])
    planner = Planner(fake, use_minilm=False)
    result = planner.plan(
        "I wish it were nighttime", {"last": IMG, "beach": IMG}, references=References(files={})
    )
    assert result.source == "llm" and result.plan.base == "last"


@pytest.mark.parametrize("text", ["make the ring green", "remove the dog", "make it snowy"])
def test_an_edit_with_no_picture_at_all_says_so_without_asking_the_llm(text: str) -> None:
    fake = FakeLLM([])  # any request would fail: it has no answers
    planner = Planner(fake, use_minilm=False)
    with pytest.raises(NothingToEditError, match="no picture to edit yet") as raised:
        planner.plan(text, {"hum": AUDIO}, references=References(files={}))
    assert "attach one" in str(raised.value.hint) and not fake.requests
    # a picture attached but used otherwise is not "no picture": the LLM may read it
    with pytest.raises(NotCanonicalError) as other:
        parse_instruction("add [dog]", {"dog": IMG})
    assert not isinstance(other.value, NothingToEditError)
