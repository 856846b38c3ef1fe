"""A peft LoRA adapter of a Llama model as a GGUF adapter file that llama.cpp loads next to its
base GGUF (``Llama(model_path=..., lora_path=...)``), written with the ``gguf`` package.

llama.cpp's format (what its ``convert_lora_to_gguf.py`` writes): ``general.type = adapter``,
``adapter.type = lora``, ``adapter.lora.alpha``, and for each adapted weight ``W`` (out x in) two
tensors ``<gguf name of W>.lora_a`` (rank x in) and ``.lora_b`` (out x rank), so that
``W' = W + alpha / rank * B @ A``.

One subtlety: the HF->GGUF conversion permutes the rows of ``q_proj`` and ``k_proj`` (llama.cpp's
rotary embedding pairs neighbouring dimensions, HF's pairs the two halves), and transformers undoes
it when it reads a GGUF. An adapter trained in HF's order must have the same permutation applied
to the rows of its ``B`` for q and k, or the update lands on the wrong dimensions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# HF Llama module -> llama.cpp tensor name (per block)
GGUF_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_PEFT_KEY = re.compile(r"layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight$")


def rope_permute(rows: Any, heads: int) -> Any:
    """HF's q/k row order -> llama.cpp's (the permutation of convert_hf_to_gguf for Llama)."""
    shape = rows.shape
    return rows.reshape(heads, 2, shape[0] // heads // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def lora_tensors(model: Any) -> dict[str, Any]:
    """GGUF tensor name -> fp16 numpy array for every LoRA matrix of a peft Llama model."""
    import numpy as np
    from peft import get_peft_model_state_dict

    config = model.get_base_model().config
    heads = {"attn_q": config.num_attention_heads, "attn_k": config.num_key_value_heads}
    tensors: dict[str, Any] = {}
    for key, value in get_peft_model_state_dict(model).items():
        found = _PEFT_KEY.search(key)
        if found is None or found[2] not in GGUF_NAMES:
            raise ValueError(f"cannot write adapter weight {key} to GGUF (not a Llama linear)")
        block, name, half = found[1], GGUF_NAMES[found[2]], found[3]
        array = value.detach().float().cpu().numpy()
        if half == "B" and name in heads:
            array = rope_permute(array, heads[name])
        tensors[f"blk.{block}.{name}.weight.lora_{half.lower()}"] = array.astype(np.float16)
    return tensors


def write_lora_gguf(model: Any, path: Path) -> Path:
    """Write ``model``'s LoRA adapter (peft, Llama) to ``path`` in llama.cpp's adapter format."""
    import gguf

    lora_config = model.peft_config[model.active_adapter]
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(lora_config.lora_alpha))
    for name, array in sorted(lora_tensors(model).items()):
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
