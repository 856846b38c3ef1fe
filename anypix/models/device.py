"""The one device picker: every loader, encoder and training loop asks it what ``auto`` means."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anypix.errors import ConfigError

if TYPE_CHECKING:
    import torch


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA, else Apple's MPS, else the CPU; any other name as torch reads it
    (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"unknown device {name!r}", "use auto, cpu, cuda, cuda:1 or mps"
        ) from None
