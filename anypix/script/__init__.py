"""``anypix run FILE``: scripted instruction files, run resumably (the format: docs/scripts.md).

    session: tour
    assets: {scene: scene.png, photo: photo.png}     # or {FAMILY: SEED}: a drawn scene
    defaults: {seed: 1, steps: 4}
    steps:
      - add a yellow ring to [scene]
      - instruction: make the ring in [last] green
        expect: {outputs: 1, ops: [recolor]}

Each step is one turn of one session. ``OUT/manifest.json`` records every step as it finishes,
keyed by a hash of (step index, instruction, knobs, input asset hashes, model, the previous
step's key), so a rerun skips the steps whose key is unchanged and whose images are still there,
and an edited step reruns together with every step after it (they edit its output).

Exit codes a CI can use (each error's own, :mod:`anypix.errors`): 0 all ok, 1 a step missed its
``expect``, 2 a bad file or a step that needs fixing (an unknown name, a question from the
planner...), 3 a model that is not available, 130 interrupted; the manifest is saved whenever a
step ran.
"""

from anypix.script.format import DrawnAsset, Expect, Script, ScriptError, Step, load_script
from anypix.script.manifest import MANIFEST, MANIFEST_VERSION, Manifest, StepState, step_key
from anypix.script.run import (
    EXIT_BAD_FILE,
    EXIT_INTERRUPTED,
    EXIT_NO_MODEL,
    EXIT_OK,
    EXIT_STEP_FAILED,
    RunResult,
    dry_run,
    prepare_inputs,
    run_script,
)

__all__ = [
    "EXIT_BAD_FILE",
    "EXIT_INTERRUPTED",
    "EXIT_NO_MODEL",
    "EXIT_OK",
    "EXIT_STEP_FAILED",
    "MANIFEST",
    "MANIFEST_VERSION",
    "DrawnAsset",
    "Expect",
    "Manifest",
    "RunResult",
    "Script",
    "ScriptError",
    "Step",
    "StepState",
    "dry_run",
    "load_script",
    "prepare_inputs",
    "run_script",
    "step_key",
]  # fmt: skip
