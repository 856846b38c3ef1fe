"""The plan language: validation, the token form, BlobGEN CSS and ellipse rasterisation."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anypix.errors import PlanParseError
from anypix.plan import OP_KINDS, Blob, Box, EditPlan, Knobs, Op, parse_css_layout

# -- strategies for valid plans --------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,12}", fullmatch=True)
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda s: s.strip())
unit = st.floats(0, 1, allow_nan=False)
canvas = st.sampled_from([(512, 512), (640, 480), (64, 64), (1024, 768), (333, 517)])


@st.composite
def blobs(draw: st.DrawFn) -> Blob:
    a = draw(st.floats(0.001, 2.0))
    b = draw(st.floats(0.001, 1.0).map(lambda f: f * a))
    return Blob(
        description=draw(words),
        cx=draw(unit),
        cy=draw(unit),
        a=a,
        b=max(b, 0.001),
        angle=draw(st.floats(-720, 720)),
    )


@st.composite
def boxes(draw: st.DrawFn) -> Box:
    x0, x1 = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    y0, y1 = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    x1, y1 = max(x1, x0 + 0.01), max(y1, y0 + 0.01)
    if x1 > 1:
        x0, x1 = 0.98, 1.0
    if y1 > 1:
        y0, y1 = 0.98, 1.0
    return Box(phrase=draw(words), x0=x0, y0=y0, x1=x1, y1=y1)


@st.composite
def plans(draw: st.DrawFn) -> EditPlan:
    pool = draw(st.lists(names, min_size=0, max_size=5, unique=True))
    generate = draw(st.booleans()) or not pool
    base = None if generate else pool[0]
    rest = pool if generate else pool[1:]
    style_ref = draw(st.sampled_from([None, *rest])) if rest else None
    subs = [n for n in rest if n != style_ref]
    refs = [None, *subs, *([style_ref] if style_ref else [])]
    kinds = ["generate"] if generate else [k for k in OP_KINDS if k != "generate"]
    ops = draw(
        st.lists(
            st.builds(
                Op,
                op=st.sampled_from(kinds),
                target=words.filter(lambda t: "ref=" not in t),
                ref=st.sampled_from(refs),
            ),
            min_size=1,
            max_size=3,
        )
    )
    knobs = Knobs(
        alpha=draw(unit),
        guidance=draw(st.none() | st.floats(0, 50)),
        steps=draw(st.none() | st.integers(1, 1000)),
        seed=draw(st.none() | st.integers(0, 2**63 - 1)),
        size=draw(st.none() | canvas),
    )
    return EditPlan(
        base=base,
        subs=subs,
        gen=draw(st.text(max_size=60)),
        ops=ops,
        blobs=draw(st.lists(blobs(), max_size=3)),
        boxes=draw(st.lists(boxes(), max_size=2)),
        style_ref=style_ref,
        knobs=knobs,
    )


# -- round trips -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_tokens_round_trip_exactly(plan: EditPlan) -> None:
    assert EditPlan.from_tokens(plan.tokens()) == plan


@settings(max_examples=300, deadline=None)
@given(blobs(), canvas)
def test_css_round_trip_exactly(blob: Blob, size: tuple[int, int]) -> None:
    again = Blob.from_css(blob.to_css(*size), *size, description=blob.description)
    assert again == blob


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_garbage_raises_only_the_parse_error(text: str) -> None:
    with contextlib.suppress(PlanParseError):
        EditPlan.from_tokens(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "[base] ",
                "[sub] ",
                "[op] ",
                "[blob] ",
                "[box] ",
                "[knobs] ",
                "[gen] ",
                "[style] ",
                "add ",
                "ref=",
                "{",
                "}",
                "px",
                ";",
                ": ",
                "major-radius",
                "cx",
                "angle",
                '"',
                "1e400",
                "-3",
                "0.5",
                "size=",
                "12x12",
                "seed=",
                "\n",
                " ",
                "x",
                "-",
                "nan",
                "inf",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_structured_garbage_raises_only_the_parse_error(text: str) -> None:
    with contextlib.suppress(PlanParseError):
        EditPlan.from_tokens(text)


# -- the token form --------------------------------------------------------------------------------


def test_token_form_matches_the_documented_lines() -> None:
    dog = Blob.from_css(
        "dog {major-radius: 162px; minor-radius: 76px; cx: 444px; cy: 258px; angle: 96}",
        description="A brown dog sitting on the grass",
    )
    plan = EditPlan(
        base="photo",
        subs=["dog"],
        gen="a dog sitting on the grass",
        ops=[Op(op="add", target="dog", ref="dog")],
        blobs=[dog],
        style_ref="monet",
    )
    assert plan.tokens().splitlines() == [
        "[base] photo",
        "[sub] dog",
        "[gen] a dog sitting on the grass",
        "[blob] dog {major-radius: 162px; minor-radius: 76px; cx: 444px; cy: 258px; angle: 96} "
        '"A brown dog sitting on the grass"',
        "[style] monet",
        "[op] add dog ref=dog",
    ]


def test_parser_tolerates_case_whitespace_blank_lines_and_comments() -> None:
    text = """
        # a plan written by hand
        [BASE]    photo
        [Sub] dog

        [op]   add    the   dog   ref=dog
        [KNOBS] seed=7   alpha=0.5
    """
    plan = EditPlan.from_tokens(text)
    assert plan.base == "photo" and plan.subs == ["dog"]
    assert plan.ops == [Op(op="add", target="the dog", ref="dog")]
    assert plan.knobs.seed == 7 and plan.knobs.alpha == 0.5


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("[base] photo\n[bsae] dog\n[op] add x", 2, "expected a line starting with"),
        ("[base] photo\n[base] other\n[op] remove x", 2, "appears twice"),
        ("[base] photo", None, "at least one [op]"),
        ("[base] photo\n[op] paint x", 2, "unknown op 'paint'"),
        ("[op] generate x\n[blob] dog {cx: 1px}", 2, "missing major-radius"),
        (
            "[op] generate x\n[blob] dog {major-radius: 9px; minor-radius: 5px; cx: 1px; cy: 1px; angle: 0}",
            2,
            "double-quoted",
        ),
        ("[op] generate x\n[knobs] alpha=2", 2, "alpha"),
        ("[op] generate x\n[knobs] temperature=2", 2, "known knobs"),
        ("[base] my photo\n[op] add x", 1, "not an asset name"),
        ("[op] add dog ref=dog", None, "needs a [base]"),
        ("[base] p\n[op] add dog ref=cat", None, "neither a [sub] nor the [style]"),
    ],
)
def test_parse_errors_point_at_the_line_and_say_what_was_expected(
    text: str, line: int | None, fragment: str
) -> None:
    with pytest.raises(PlanParseError) as caught:
        EditPlan.from_tokens(text)
    assert caught.value.line == line
    assert fragment in str(caught.value)


def test_contract_has_exactly_the_documented_keys() -> None:
    plan = EditPlan(base="photo", subs=["dog"], ops=[Op(op="add", target="dog", ref="dog")])
    contract = plan.contract()
    assert list(contract) == ["base", "subs", "gen", "ops", "blobs", "boxes", "style_ref", "tokens"]
    assert contract["ops"] == [{"op": "add", "target": "dog", "ref": "dog"}]
    assert EditPlan.from_tokens(contract["tokens"]) == plan


# -- validation ------------------------------------------------------------------------------------


def test_plan_consistency_rules() -> None:
    with pytest.raises(ValueError, match="needs a \\[base\\]"):
        EditPlan(ops=[Op(op="remove", target="cat")])
    with pytest.raises(ValueError, match="'generate' makes a new image"):
        EditPlan(base="photo", ops=[Op(op="generate", target="cat")])
    with pytest.raises(ValueError, match="both the \\[base\\] and a \\[sub\\]"):
        EditPlan(base="photo", subs=["photo"], ops=[Op(op="add", target="x")])
    with pytest.raises(ValueError, match="repeat"):
        EditPlan(base="p", subs=["a", "a"], ops=[Op(op="add", target="x")])
    with pytest.raises(ValueError, match="at least 1"):
        EditPlan(base="p", ops=[])


def test_blob_rejects_minor_larger_than_major_but_css_repairs_it() -> None:
    with pytest.raises(ValueError, match="swap them"):
        Blob(description="cat", cx=0.5, cy=0.5, a=0.1, b=0.2, angle=0)
    swapped = Blob.from_css(
        "cat {major-radius: 50px; minor-radius: 100px; cx: 256px; cy: 256px; angle: 30}"
    )
    assert (swapped.a, swapped.b, swapped.angle) == (100 / 512, 50 / 512, 120.0)
    assert (
        swapped.mask(64, 64).tolist()
        == Blob(description="cat", cx=0.5, cy=0.5, a=100 / 512, b=50 / 512, angle=120)
        .mask(64, 64)
        .tolist()
    )


def test_angles_wrap_into_0_180() -> None:
    assert Blob(description="x", cx=0.5, cy=0.5, a=0.2, b=0.1, angle=-30).angle == 150
    assert Blob(description="x", cx=0.5, cy=0.5, a=0.2, b=0.1, angle=540).angle == 0


def test_css_layout_reads_blobgen_lines_and_reports_bad_ones() -> None:
    layout = parse_css_layout(
        "dog {major-radius: 162px; minor-radius: 76px; cx: 444px; cy: 258px; angle: 96}\n"
        "\n"
        "cat {major-radius: 80px; minor-radius: 60px; cx: 100px; cy: 300px; angle: 0;}\n"
    )
    assert [b.label for b in layout] == ["dog", "cat"]
    with pytest.raises(PlanParseError) as caught:
        parse_css_layout("dog {major-radius: 1px}\ncat {")
    assert caught.value.line == 1


# -- geometry --------------------------------------------------------------------------------------


def _reference_mask(blob: Blob, width: int, height: int) -> np.ndarray:
    side = min(width, height)
    t = math.radians(blob.angle)
    out = np.zeros((height, width), bool)
    for y in range(height):
        for x in range(width):
            dx, dy = x + 0.5 - blob.cx * width, y + 0.5 - blob.cy * height
            u = dx * math.cos(t) + dy * math.sin(t)
            v = -dx * math.sin(t) + dy * math.cos(t)
            out[y, x] = (u / (blob.a * side)) ** 2 + (v / (blob.b * side)) ** 2 <= 1
    return out


@settings(max_examples=40, deadline=None)
@given(blobs(), st.sampled_from([(32, 32), (40, 24), (17, 29)]))
def test_mask_is_the_exact_tilted_ellipse_test(blob: Blob, size: tuple[int, int]) -> None:
    assert np.array_equal(blob.mask(*size), _reference_mask(blob, *size))


def test_mask_area_and_orientation() -> None:
    blob = Blob(description="bar", cx=0.5, cy=0.5, a=0.4, b=0.1, angle=90)
    mask = blob.mask(512, 512)
    assert mask.sum() == pytest.approx(math.pi * (0.4 * 512) * (0.1 * 512), rel=0.01)
    rows, cols = np.nonzero(mask)
    assert np.ptp(rows) > 3 * np.ptp(cols)  # angle 90: the major axis runs down the canvas


def test_radii_scale_with_the_shorter_side_so_shapes_stay_round() -> None:
    circle = Blob(description="ball", cx=0.5, cy=0.5, a=0.25, b=0.25)
    rows, cols = np.nonzero(circle.mask(400, 200))
    assert np.ptp(rows) == pytest.approx(np.ptp(cols), abs=1)


def test_bbox_encloses_the_mask_tightly() -> None:
    blob = Blob(description="dog", cx=0.4, cy=0.6, a=0.3, b=0.1, angle=35)
    box = blob.bbox(256, 256)
    rows, cols = np.nonzero(blob.mask(256, 256))
    assert box.x0 * 256 <= cols.min() + 0.5 and cols.max() + 0.5 <= box.x1 * 256
    assert box.y0 * 256 <= rows.min() + 0.5 and rows.max() + 0.5 <= box.y1 * 256
    assert (box.x1 - box.x0) * 256 - (np.ptp(cols) + 1) < 3
    assert box.phrase == "dog"


def test_bbox_clips_to_the_canvas() -> None:
    box = Blob(description="sun", cx=1.0, cy=0.0, a=0.5, b=0.5).bbox()
    assert (box.x0, box.y0, box.x1, box.y1) == (0.5, 0.0, 1.0, 0.5)


def test_a_negative_prompt_has_its_own_token_line() -> None:
    plan = EditPlan.from_tokens("[gen] a cat\n[op] generate\n[knobs] seed=2\n[negative] blurry, dark")
    assert plan.knobs.negative == "blurry, dark" and plan.knobs.seed == 2
    assert plan.tokens().splitlines()[-2:] == ["[knobs] seed=2", "[negative] blurry, dark"]
    assert EditPlan.from_tokens(plan.tokens()) == plan
    with pytest.raises(PlanParseError, match=r"\[negative\]"):
        EditPlan.from_tokens("[gen] a cat\n[op] generate\n[negative] " + "x" * 1001)
