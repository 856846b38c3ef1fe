"""StyleAligned shared attention as a diffusers attention processor plus shared GroupNorms.

Every image of a batch attends, in its self-attention layers, to its own keys/values *and* to the
reference image's (batch index 0 of each classifier-free-guidance half), after AdaIN has moved its
queries and keys to the reference's per-channel statistics (Hertz et al., StyleAligned). Options
match the reference implementation (google/style-aligned ``StyleAlignedArgs``).

Batch layout: with guidance the UNet batch is ``[uncond_ref, uncond_1.., cond_ref, cond_1..]``;
each half shares with its own reference. The reference rows themselves are computed exactly as
without sharing (plain attention, no AdaIN, own norm statistics): in the reference implementation
they attend to their own keys twice and are AdaIN'd to their own statistics, which is the same
function computed at twice the cost and with rounding noise.

Where this is cheaper than the reference implementation, with the same results:

* reference rows skip the doubled attention and AdaIN (see above);
* AdaIN statistics come from two plain reductions (sum of x and of x**2) instead of
  ``torch.var``, whose CPU kernel costs 15-20x more, and AdaIN itself is one ``addcmul``;
* shared GroupNorm stands in for each layer's forward: one fused kernel gives the layer's output
  and its statistics, and an affine map per sample and channel corrects that output to pooled
  statistics, instead of normalising a concatenated copy of the input twice as large;
* ``share_layer_norm`` installs nothing: UNet LayerNorms normalise each token over channels, so
  concatenating the reference's tokens (what the reference implementation does) leaves every
  token's output unchanged; it is kept as an option for parity and documented as the identity.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

_ADAIN_EPS = 1e-5  # added to the unbiased variance, as in the reference implementation


@dataclass(frozen=True)
class StyleAlignedOptions:
    """StyleAligned's switches (names and defaults of the reference implementation)."""

    share_group_norm: bool = True  # pool GroupNorm statistics with the reference's
    share_layer_norm: bool = True  # identity for per-token LayerNorm (see module docstring)
    share_attention: bool = True  # attend to the reference's keys/values as well as one's own
    adain_queries: bool = True  # AdaIN queries to the reference's per-channel mean/std
    adain_keys: bool = True
    adain_values: bool = False
    full_attention_share: bool = False  # every image attends to every image of its half
    shared_score_scale: float = 1.0  # multiplies the reference's keys (sharper/softer sharing)
    shared_score_shift: float = 0.0  # added to the logits of the reference's keys
    only_self_level: float = 0.0  # fraction of self-attention layers left unshared (0: none)

    @property
    def enabled(self) -> bool:
        return self.share_attention or self.adain_queries or self.adain_keys or self.adain_values


@dataclass
class BatchLayout:
    """How the UNet batch splits into guidance halves; each half's row 0 is the reference."""

    groups: int = 2

    def split(self, batch: int) -> int:
        """Images per half; raises if the batch does not divide into ``groups`` halves."""
        if batch % self.groups:
            raise ValueError(f"batch {batch} does not split into {self.groups} guidance halves")
        return batch // self.groups


def token_mean_std(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and sqrt(unbiased variance + eps) over tokens (dim -2), accumulated in float32.

    From the sums of x and x**2: on the CPU ``torch.var``/``var_mean`` (a Welford kernel) cost
    15-20x as much as these two reductions, and were the largest single overhead of StyleAligned
    there. The cancellation error is float32 epsilon times mean**2/var, small for attention
    features, which come out of a LayerNorm and a linear map."""
    wide = x.float()
    tokens = x.shape[-2]
    mean = wide.mean(-2, keepdim=True)
    var = ((wide * wide).mean(-2, keepdim=True) - mean * mean).clamp_min(0) * (
        tokens / max(tokens - 1, 1)
    )
    return mean.to(x.dtype), (var + _ADAIN_EPS).sqrt().to(x.dtype)


def adain_to_reference(x: torch.Tensor, groups: int) -> torch.Tensor:
    """AdaIN over tokens (dim -2): rows 1.. of each half take row 0's mean and std; row 0 is
    returned bit for bit. ``x`` is (batch, heads, tokens, head_dim)."""
    import torch

    per_half = x.shape[0] // groups
    x5 = x.unflatten(0, (groups, per_half))
    mean, std = token_mean_std(x5)
    scale = std[:, :1] / std[:, 1:]
    shift = mean[:, :1] - mean[:, 1:] * scale
    targets = torch.addcmul(shift, x5[:, 1:], scale)
    return torch.cat([x5[:, :1], targets], dim=1).flatten(0, 1)


class StyleAlignedAttnProcessor:
    """Self-attention processor for StyleAligned (install with :func:`style_aligned`)."""

    def __init__(self, options: StyleAlignedOptions, layout: BatchLayout) -> None:
        self.options = options
        self.layout = layout

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **_: Any,
    ) -> torch.Tensor:
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError("StyleAligned applies to self-attention without a mask only")
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        shape = hidden_states.shape
        if hidden_states.ndim == 4:
            hidden_states = hidden_states.flatten(2).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        if self.options.full_attention_share:
            out = self._full_share(attn, hidden_states)
        else:
            out = self._attend(attn, hidden_states)
        out = attn.to_out[1](attn.to_out[0](out))
        if len(shape) == 4:
            out = out.transpose(1, 2).reshape(shape)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor

    def _heads(self, attn: Any, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (attn.heads, -1)).transpose(1, 2)

    def _qkv(self, attn: Any, hidden: torch.Tensor) -> tuple[torch.Tensor, ...]:
        query, key = self._heads(attn, attn.to_q(hidden)), self._heads(attn, attn.to_k(hidden))
        value = self._heads(attn, attn.to_v(hidden))
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        return query, key, value

    def _full_share(self, attn: Any, hidden: torch.Tensor) -> torch.Tensor:
        # Each guidance half becomes one long sequence: every token sees every image's tokens.
        import torch.nn.functional as F

        batch, tokens, _ = hidden.shape
        joined = hidden.reshape(self.layout.groups, -1, hidden.shape[-1])
        query, key, value = self._qkv(attn, joined)
        out = F.scaled_dot_product_attention(query, key, value)
        return out.transpose(1, 2).flatten(2).reshape(batch, tokens, -1).to(hidden.dtype)

    def _attend(self, attn: Any, hidden: torch.Tensor) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        opts, groups = self.options, self.layout.groups
        per_half = self.layout.split(hidden.shape[0])
        query, key, value = self._qkv(attn, hidden)
        if per_half < 2 or not opts.enabled:
            out = F.scaled_dot_product_attention(query, key, value)
            return out.transpose(1, 2).flatten(2).to(hidden.dtype)
        if opts.adain_queries:
            query = adain_to_reference(query, groups)
        if opts.adain_keys:
            key = adain_to_reference(key, groups)
        if opts.adain_values:
            value = adain_to_reference(value, groups)
        if not opts.share_attention:
            out = F.scaled_dot_product_attention(query, key, value)
            return out.transpose(1, 2).flatten(2).to(hidden.dtype)
        q5, k5, v5 = (t.unflatten(0, (groups, per_half)) for t in (query, key, value))
        ref_out = F.scaled_dot_product_attention(q5[:, 0], k5[:, 0], v5[:, 0])
        ref_key = k5[:, :1] * opts.shared_score_scale if opts.shared_score_scale != 1 else k5[:, :1]
        shape = (groups, per_half - 1, *k5.shape[2:])
        keys = torch.cat([k5[:, 1:], ref_key.expand(shape)], dim=-2).flatten(0, 1)
        values = torch.cat([v5[:, 1:], v5[:, :1].expand(shape)], dim=-2).flatten(0, 1)
        bias = None
        if opts.shared_score_shift:
            tokens = k5.shape[-2]
            bias = torch.zeros(1, 2 * tokens, dtype=query.dtype, device=query.device)
            bias[:, tokens:] = opts.shared_score_shift
        tgt_out = F.scaled_dot_product_attention(q5[:, 1:].flatten(0, 1), keys, values, bias)
        out = torch.cat([ref_out.unsqueeze(1), tgt_out.unflatten(0, (groups, -1))], dim=1)
        return out.flatten(0, 1).transpose(1, 2).flatten(2).to(hidden.dtype)


def _shared_group_norm(layout: BatchLayout) -> Any:
    """GroupNorm forward with statistics pooled over the image and its half's reference (what
    normalising ``cat([x, x_ref], spatial)`` gives), as an affine correction of the layer's own
    output (derivation in the comments). Installed in place of each layer's ``forward``: in
    float32 one fused kernel gives the layer's output and its statistics together."""
    import torch
    import torch.nn.functional as F

    def forward(module: nn.GroupNorm, x: torch.Tensor) -> torch.Tensor:
        batch, channels = x.shape[:2]
        groups = module.num_groups
        if layout.split(batch) < 2:
            return F.group_norm(x, groups, module.weight, module.bias, module.eps)
        per_half = batch // layout.groups
        spatial = x[0, 0].numel()
        # The layer's own output and per-group statistics from the kernel GroupNorm runs
        # (torch.var_mean is ~15x slower on the CPU). var = rstd**-2 - eps, in float32.
        if x.dtype == torch.float32:
            output, mean, rstd = torch.ops.aten.native_group_norm(
                x, module.weight, module.bias, batch, channels, spatial, groups, module.eps
            )
        else:  # half precision (and autocast): the layer as it runs, statistics in float32
            output = F.group_norm(x, groups, module.weight, module.bias, module.eps)
            _, mean, rstd = torch.ops.aten.native_group_norm(
                x.float(), None, None, batch, channels, spatial, groups, module.eps
            )
        var = rstd.pow(-2) - module.eps
        var, mean = (
            var.view(layout.groups, per_half, groups),
            mean.view(layout.groups, per_half, groups),
        )
        # Pooled (biased) statistics of two equal-sized sets: the reference row pools with itself,
        # so its mean and variance, and hence its output, stay exactly what they were.
        pooled_mean = (mean + mean[:, :1]) / 2
        pooled_var = (var + var[:, :1]) / 2 + ((mean - mean[:, :1]) / 2) ** 2
        pooled_std = (pooled_var + module.eps).sqrt()
        # y_own = (x - m)/s * w + b  and  y = (x - m_p)/s_p * w + b  give
        # y = a * y_own + b * (1 - a) + w * (m - m_p) / s_p   with  a = s / s_p.
        scale = (var + module.eps).sqrt() / pooled_std
        offset = (mean - pooled_mean) / pooled_std
        per_channel = channels // groups
        scale = scale.reshape(batch, groups, 1).expand(-1, -1, per_channel).reshape(batch, channels)
        offset = (
            offset.reshape(batch, groups, 1).expand(-1, -1, per_channel).reshape(batch, channels)
        )
        if module.affine:
            offset = module.bias * (1 - scale) + module.weight * offset
        view = (batch, channels) + (1,) * (output.ndim - 2)
        return torch.addcmul(
            offset.view(view).to(output.dtype), output, scale.view(view).to(output.dtype)
        )

    return forward


@contextmanager
def shared_group_norm(modules: Iterable[nn.Module], layout: BatchLayout) -> Iterator[None]:
    """Every GroupNorm in ``modules`` pools its statistics with its half's reference for the
    duration of the block; their own ``forward`` is back afterwards."""
    from functools import partial

    from torch import nn

    forward = _shared_group_norm(layout)
    norms = [m for m in modules if isinstance(m, nn.GroupNorm) and "forward" not in vars(m)]
    for norm in norms:
        norm.forward = partial(forward, norm)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for norm in norms:
            del norm.forward


def _switch_vector(layers: int, level: float) -> list[bool]:
    """True for self-attention layers left unshared; ``level`` is their fraction, spread evenly
    (the reference implementation's ``only_self_level``)."""
    if level <= 0:
        return [False] * layers
    if level >= 1:
        return [True] * layers
    flip = level > 0.5
    count = max(1, int((1 - level if flip else level) * layers))
    every = max(1, layers // count)
    chosen = [i % every == 0 for i in range(layers)]
    return [not c for c in chosen] if flip else chosen


@contextmanager
def style_aligned(
    unet: Any, options: StyleAlignedOptions = StyleAlignedOptions(), *, do_cfg: bool = True
) -> Iterator[BatchLayout]:
    """Install StyleAligned on ``unet`` for the duration of the block.

    Only self-attention (``attn1``) processors are replaced; every other processor object (cross
    attention, IP-Adapter, grounding) is left in place, and on exit the original processor objects
    are put back and the GroupNorms' own forward restored, so the UNet is exactly as before."""
    original = dict(unet.attn_processors)
    layout = BatchLayout(groups=2 if do_cfg else 1)
    self_layers = [name for name in original if name.endswith("attn1.processor")]
    unshared = dict(
        zip(self_layers, _switch_vector(len(self_layers), options.only_self_level), strict=True)
    )
    installed = {
        name: StyleAlignedAttnProcessor(options, layout) if unshared.get(name) is False else proc
        for name, proc in original.items()
    }
    norms = unet.modules() if options.share_group_norm else ()
    try:
        unet.set_attn_processor(installed)
        with shared_group_norm(norms, layout):
            yield layout
    finally:
        unet.set_attn_processor(dict(original))
