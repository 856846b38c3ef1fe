"""Which techniques a plan asks for, in the order the render runs them.

The building blocks live in :mod:`anypix.tools.techniques`; the ops that change the [base] before
its inversion (remove, move, recolor, ...) in :mod:`anypix.tools.ops`. This module sits above
both, so neither imports the other's chooser.
"""

from __future__ import annotations

from anypix.plan import EditPlan
from anypix.tools.ops import base_techniques, paired_regions
from anypix.tools.refine import wants_prior
from anypix.tools.shape_guidance import DRAWS, ShapeGuidance
from anypix.tools.techniques import (
    Grounding,
    InvertBase,
    KeepOutside,
    RefinementPrior,
    StyleReference,
    Subjects,
    Technique,
)


def techniques_for(plan: EditPlan) -> list[Technique]:
    """The techniques ``plan`` asks for, in the order the render runs them: subjects first (they
    may change the words the [base] is inverted with), the [base]'s inversion before what
    composites with it."""
    chosen: list[Technique] = []
    if plan.subs:
        chosen.append(Subjects())
    paired = paired_regions(plan) is not None  # each op owns its blobs: an op edit (tools/ops)
    if plan.base is not None and paired:
        prepare, keep = base_techniques(plan)  # the ops change the [base] before its inversion
        chosen += [prepare, InvertBase(), keep]
    elif plan.base is not None:
        chosen.append(InvertBase())
        if plan.blobs or plan.boxes:
            chosen.append(KeepOutside())
    if plan.style_ref is not None:
        chosen.append(StyleReference())
    if wants_prior(plan):
        chosen.append(RefinementPrior())
    if (plan.blobs or plan.boxes) and (paired or not all(op.op == "remove" for op in plan.ops)):
        # A remove op's blob says "background": a model that learnt empty regions paints one.
        # An unpaired plan that only removes draws nothing: its regions say where to erase.
        chosen.append(Grounding())
    if plan.blobs and plan.knobs.shape_guidance != 0 and all(op.op in DRAWS for op in plan.ops):
        chosen.append(ShapeGuidance())  # last: it moves the latents the others have set
    return chosen
