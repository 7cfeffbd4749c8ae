"""Quantize with llm-compressor, the reference implementation: run inside the referee's own tool
environment (never the serving one), by `benchmarks.quant_referee`.

    python llmcompressor_run.py MODEL OUT --scheme w4a16 --method gptq --group-size 64 \\
        --act-order static --windows windows.json

The calibration windows are token ids written by the referee (the ones `llm-quantize` picks), so
both tools see the same text. Imports nothing from this project.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def weights(scheme: str, group_size: int | None) -> dict[str, Any]:
    if scheme == "w4a16":
        return {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group",
                "group_size": group_size}  # fmt: skip
    return {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "channel"}


def recipe(ns: argparse.Namespace) -> list[Any]:
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier
    from llmcompressor.modifiers.smoothquant import SmoothQuantModifier

    group: dict[str, Any] = {"targets": ["Linear"], "weights": weights(ns.scheme, ns.group_size)}
    if ns.scheme == "w8a8":
        group["input_activations"] = {"num_bits": 8, "type": "int", "symmetric": True,
                                      "strategy": "token", "dynamic": True}  # fmt: skip
    groups = {"group_0": group}
    steps: list[Any] = []
    if ns.method == "smoothquant-gptq":
        steps.append(SmoothQuantModifier(smoothing_strength=ns.smoothing))
    if ns.method == "rtn":
        steps.append(QuantizationModifier(config_groups=groups, ignore=["lm_head"]))
    else:
        # act-order goes to the modifier: left unset there, it is static whatever the config
        # group says
        act_order = None if ns.act_order == "none" else ns.act_order
        steps.append(
            GPTQModifier(
                config_groups=groups, ignore=["lm_head"], dampening_frac=ns.damp,
                actorder=act_order,
            )
        )  # fmt: skip
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--scheme", choices=("w4a16", "w8a8"), required=True)
    ap.add_argument("--method", choices=("rtn", "gptq", "smoothquant-gptq"), required=True)
    ap.add_argument("--group-size", type=int, default=None)
    ap.add_argument("--act-order", choices=("static", "none"), default="static")
    ap.add_argument("--damp", type=float, default=0.01)
    ap.add_argument("--smoothing", type=float, default=0.5)
    ap.add_argument("--windows", required=True, help="JSON list of token-id lists")
    ns = ap.parse_args()

    import torch
    from datasets import Dataset
    from llmcompressor import oneshot
    from transformers import AutoModelForCausalLM, AutoTokenizer

    windows = json.loads(open(ns.windows).read())
    model = AutoModelForCausalLM.from_pretrained(ns.model, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(ns.model)
    data = Dataset.from_dict(
        {"input_ids": windows, "attention_mask": [[1] * len(w) for w in windows]}
    )
    oneshot(
        model=model,
        dataset=data,
        recipe=recipe(ns),
        max_seq_length=max(len(w) for w in windows),
        num_calibration_samples=len(windows),
    )
    model.to(torch.bfloat16)  # type: ignore[arg-type]
    model.save_pretrained(ns.out, save_compressed=True)
    tok.save_pretrained(ns.out)


if __name__ == "__main__":
    main()
