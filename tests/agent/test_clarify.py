"""Ask, don't guess: when an instruction has two sensible readings the planner raises
ClarificationNeeded with the question and its choices; the person's reply comes back appended in
parentheses (``make it snowy ([a])``) and then plans without a question."""

from __future__ import annotations

import pytest

from anypix.agent.grammar import parse_instruction
from anypix.agent.llm import FakeLLM
from anypix.agent.planner import Planner
from anypix.agent.references import References
from anypix.commands import PendingQuestion  # how chat and the TUI join a reply to a question
from anypix.errors import ClarificationNeeded
from anypix.plan import EditPlan

IMG, AUDIO = "image", "audio"


def ask(
    text: str, assets: dict[str, str], attached: list[str] | None = None
) -> ClarificationNeeded:
    with pytest.raises(ClarificationNeeded) as info:
        parse_instruction(text, assets, attached)
    return info.value


def kinds(plan: EditPlan) -> list[str]:
    return [op.op for op in plan.ops]


# -- when it asks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["make it snowy", "remove the umbrella", "put a hat on him"])
def test_two_candidate_images_make_it_ask_which(text: str) -> None:
    question = ask(text, {"a": IMG, "b": IMG})
    assert question.choices == ["[a]", "[b]"] and "[a] or [b]" in question.question


def test_two_images_attached_this_turn_ask_even_inside_a_session() -> None:
    question = ask("make the sky purple", {"last": IMG, "x": IMG, "y": IMG}, attached=["x", "y"])
    assert question.choices == ["[x]", "[y]"]


def test_an_attachment_the_edit_leaves_out_is_asked_about() -> None:
    question = ask("make [beach] snowy", {"beach": IMG, "dog": IMG}, attached=["beach", "dog"])
    assert "[dog]" in question.question
    assert question.choices == ["add [dog]", "in the style of [dog]", "leave [dog] out"]


def test_a_description_with_an_image_attached_asks_whether_to_edit_it() -> None:
    question = ask("a castle on a hill", {"photo": IMG}, attached=["photo"])
    assert question.choices == ["edit [photo]", "draw a new picture"]


@pytest.mark.parametrize(
    ("text", "question"),
    [("remove that", "What should I remove?"), ("move it to the left", "What should I move")],
)
def test_a_vague_object_is_asked_about(text: str, question: str) -> None:
    assert ask(text, {"pic": IMG}).question.startswith(question)


def test_the_planner_learns_what_was_attached_from_its_references() -> None:
    assets = {"beach": IMG, "dog": IMG}
    with pytest.raises(ClarificationNeeded, match=r"\[dog\]"):
        Planner(None).plan("make [beach] snowy", assets, references=References({"dog": "d.png"}))
    # a bare asset table says nothing about this turn: an earlier asset is not asked about
    assert Planner(None).plan("make [beach] snowy", assets).plan.base == "beach"


def test_the_planner_asks_instead_of_calling_the_llm() -> None:
    fake = FakeLLM([])  # any LLM call would raise
    with pytest.raises(ClarificationNeeded):
        Planner(fake, use_minilm=False).plan("make it snowy", {"a": IMG, "b": IMG})
    assert fake.requests == []


def test_an_unused_attachment_goes_to_the_llm_which_may_use_it() -> None:
    """The grammar cannot tie "what I sent" to [song]; a trained model may, and then nothing
    attached is dropped, so there is nothing to ask."""
    assets = {"beach": IMG, "song": AUDIO}
    attached = References({"beach": "beach.jpg", "song": "song.wav"})
    with pytest.raises(ClarificationNeeded):  # the grammar alone asks
        Planner(None).plan("make the photo match what I sent", assets, references=attached)
    uses_it = {"base": "beach", "subs": [], "style_ref": "song",
               "ops": [{"op": "restyle", "target": "", "ref": "song"}], "gen": "the same scene"}  # fmt: skip
    result = Planner(FakeLLM([uses_it]), use_minilm=False).plan(
        "make the photo match what I sent", assets, references=attached
    )
    assert result.source == "llm" and result.plan.style_ref == "song"


def test_the_question_stands_when_the_llm_also_leaves_the_attachment_out() -> None:
    assets = {"beach": IMG, "song": AUDIO}
    attached = References({"beach": "beach.jpg", "song": "song.wav"})
    drops_it = {"base": "beach", "subs": [], "style_ref": None,
                "ops": [{"op": "restyle", "target": "warm", "ref": None}], "gen": "warm"}  # fmt: skip
    with pytest.raises(ClarificationNeeded, match=r"\[song\]") as info:
        Planner(FakeLLM([drops_it]), use_minilm=False).plan(
            "make the photo match what I sent", assets, references=attached
        )
    assert info.value.choices[-1] == "leave [song] out"


def test_an_attachment_held_in_a_role_no_op_reads_is_not_used() -> None:
    """A recolor does not read a [sub]: a plan that parks the attached dog there drops it."""
    assets = {"beach": IMG, "dog": IMG}
    attached = References({"beach": "beach.jpg", "dog": "dog.png"})
    parks_it = {"base": "beach", "subs": ["dog"], "style_ref": None,
                "ops": [{"op": "recolor", "target": "the sand white", "ref": None}],
                "gen": "white sand"}  # fmt: skip
    with pytest.raises(ClarificationNeeded, match=r"\[dog\]"):
        Planner(FakeLLM([parks_it]), use_minilm=False).plan(
            "make the sand on [beach] white", assets, references=attached
        )


def test_an_attachment_held_as_the_ref_of_something_else_is_not_used() -> None:
    """"add a hat" says in words what it adds: the attached cat as its ref only pretends to be
    used, so the question stands; "add a cat" may well mean the attached one."""
    assets = {"kid": IMG, "cat": IMG}
    attached = References({"kid": "kid.jpg", "cat": "cat.jpg"})

    def holds_cat(target: str) -> dict[str, object]:
        return {"base": "kid", "subs": ["cat"], "style_ref": None, "gen": target,
                "ops": [{"op": "add", "target": target, "ref": "cat"}]}  # fmt: skip

    with pytest.raises(ClarificationNeeded, match=r"\[cat\]"):
        Planner(FakeLLM([holds_cat("a hat")]), use_minilm=False).plan(
            "add a hat to [kid]", assets, references=attached
        )
    result = Planner(FakeLLM([holds_cat("a cat")]), use_minilm=False).plan(
        "add a cat to [kid]", assets, references=attached
    )
    assert result.plan.subs == ["cat"] and result.plan.ops[0].ref == "cat"


def test_a_new_picture_from_the_llm_does_not_answer_edit_or_draw() -> None:
    """"Edit it or draw a new picture?" stands unless the model's plan edits the attachment."""
    assets = {"beach": IMG}
    draws = {"base": None, "subs": [], "style_ref": None, "ops": [{"op": "generate", "target": "",
             "ref": None}], "gen": "a castle on a hill"}  # fmt: skip
    with pytest.raises(ClarificationNeeded) as info:
        Planner(FakeLLM([draws]), use_minilm=False).plan(
            "a castle on a hill", assets, references=References({"beach": "beach.jpg"})
        )
    assert info.value.choices == ["edit [beach]", "draw a new picture"]


# -- when it must not ask ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "assets", "attached"),
    [
        ("make it snowy", {"photo": IMG}, None),  # one image: that one
        ("make it snowy", {"last": IMG, "beach": IMG, "dog": IMG}, []),  # earlier assets stay
        ("add [dog] to [photo], put it on the left", {"photo": IMG, "dog": IMG}, None),
        ("make it black and white", {"photo": IMG}, None),
        ("make [field] feel like [rain]", {"field": IMG, "rain": AUDIO}, None),
        ("a lighthouse in a storm", {}, None),
        ("a lighthouse in a storm", {"last": IMG}, []),  # a new picture inside a session
    ],
)
def test_unambiguous_instructions_plan_without_a_question(
    text: str, assets: dict[str, str], attached: list[str] | None
) -> None:
    parse_instruction(text, assets, attached)  # raises if it asks


# -- the reply ---------------------------------------------------------------------------------------


def test_the_reply_names_the_image() -> None:
    plan = parse_instruction("make it snowy ([b])", {"a": IMG, "b": IMG})
    assert plan.base == "b" and kinds(plan) == ["restyle"]


@pytest.mark.parametrize(
    ("reply", "subs", "style", "ops"),
    [
        ("add [dog]", ["dog"], None, ["restyle", "add"]),
        ("in the style of [dog]", [], "dog", ["restyle"]),
        ("leave [dog] out", [], None, ["restyle"]),
    ],
)
def test_each_choice_about_an_attachment_plans(
    reply: str, subs: list[str], style: str | None, ops: list[str]
) -> None:
    plan = parse_instruction(
        f"make [beach] snowy ({reply})", {"beach": IMG, "dog": IMG}, attached=["beach", "dog"]
    )
    assert (plan.base, plan.subs, plan.style_ref) == ("beach", subs, style)
    assert sorted(kinds(plan)) == sorted(ops)


def test_the_reply_about_a_description_edits_or_draws() -> None:
    edit = parse_instruction("a castle on a hill (edit [photo])", {"photo": IMG}, ["photo"])
    assert (edit.base, kinds(edit), edit.ops[0].target) == ("photo", ["add"], "a castle on a hill")
    new = parse_instruction("a castle on a hill (draw a new picture)", {"photo": IMG}, ["photo"])
    assert new.base is None and kinds(new) == ["generate"]


def test_the_reply_fills_in_a_vague_object() -> None:
    plan = parse_instruction("remove that (the lamp)", {"pic": IMG})
    assert (plan.base, [op.target for op in plan.ops]) == ("pic", ["the lamp"])


def test_a_question_and_the_reply_chat_builds_from_it_plan_together() -> None:
    assets = {"a": IMG, "b": IMG}
    pending = PendingQuestion("make it snowy", ask("make it snowy", assets))
    assert parse_instruction(pending.answer("2"), assets).base == "b"
    vague = PendingQuestion("remove that", ask("remove that", {"pic": IMG}))
    plan = parse_instruction(vague.answer("the old lamp"), {"pic": IMG})
    assert [op.target for op in plan.ops] == ["the old lamp"]


def test_an_attachment_the_instruction_does_not_point_at_is_asked_about() -> None:
    """A model's plan may use an attachment only when the instruction names it or points at it
    ("it", "this", "the photo"): a sound nobody mentioned is not silently the style, two photos
    are not both "it", and "draw me a lighthouse" does not edit the harbour photo."""

    def plan_of(
        base: str | None, op: str, style: str | None = None, gen: str = ""
    ) -> dict[str, object]:
        return {"base": base, "subs": [], "style_ref": style, "gen": gen,
                "ops": [{"op": op, "target": gen, "ref": style}]}  # fmt: skip

    street = {"street": IMG, "rain": AUDIO}
    with pytest.raises(ClarificationNeeded, match=r"\[rain\]"):
        Planner(FakeLLM([plan_of("street", "restyle", "rain")]), use_minilm=False).plan(
            "make [street] darker",
            street,
            references=References({"street": "s.jpg", "rain": "r.wav"}),
        )
    result = Planner(FakeLLM([plan_of("street", "restyle", "rain")]), use_minilm=False).plan(
        "make [street] sound like this",
        street,
        references=References({"street": "s.jpg", "rain": "r.wav"}),
    )
    assert result.plan.style_ref == "rain"
    two = {"a": IMG, "b": IMG}  # the grammar declines "fix it up": the model's plan is what is checked
    with pytest.raises(ClarificationNeeded) as info:
        Planner(FakeLLM([plan_of("a", "restyle", "b", "bright")]), use_minilm=False).plan(
            "fix it up", two, references=References({"a": "a.jpg", "b": "b.jpg"})
        )
    assert info.value.choices == ["[a]", "[b]"]
    harbour = {"harbour": IMG}
    with pytest.raises(ClarificationNeeded) as info:
        Planner(FakeLLM([plan_of("harbour", "variation")]), use_minilm=False).plan(
            "draw me a lighthouse at night", harbour, references=References({"harbour": "h.jpg"})
        )
    assert info.value.choices == ["edit [harbour]", "draw a new picture"]
    # one photo attached and no word for it: it is the base, as the grammar's default has it
    result = Planner(
        FakeLLM([plan_of("harbour", "add", gen="a red balloon")]), use_minilm=False
    ).plan("pop a red balloon in the corner", harbour, references=References({"harbour": "h.jpg"}))
    assert result.plan.base == "harbour"


def test_change_that_asks_how_and_the_reply_is_the_change() -> None:
    with pytest.raises(ClarificationNeeded, match="change"):
        parse_instruction("change that", {"pic": IMG}, ["pic"])
    vague = PendingQuestion("change that", ask("change that", {"pic": IMG}))
    plan = parse_instruction(vague.answer("make the car red"), {"pic": IMG}, ["pic"])
    assert [(op.op, op.target) for op in plan.ops] == [("recolor", "the car red")]


def test_replace_it_asks_what_and_the_reply_is_the_thing_replaced() -> None:
    """"replace it with a cat" had planned a replace of "with a cat"."""
    question = ask("replace it with a cat", {"pic": IMG}, ["pic"])
    assert "replace with a cat" in question.question
    plan = parse_instruction("replace it with a cat (the dog)", {"pic": IMG}, ["pic"])
    assert [(op.op, op.target) for op in plan.ops] == [("replace", "the dog with a cat")]
