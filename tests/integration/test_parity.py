"""vLLM (through llm-serve) and transformers agree on greedy tokens for an exported checkpoint."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import torch

pytestmark = pytest.mark.integration
PROMPTS = ["def __init__(self", "import os\nimport sys\n", "class Error(Exception):", "return"]
TIE = 0.1  # logits closer than this are a tie that bf16 vs fp32 rounding may break either way


def test_greedy_parity_first_16_tokens(tiny_model: Path, base_url: str) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), torch_dtype=torch.float32).eval()
    exact = 0
    for prompt in PROMPTS:
        ids = tok(prompt)["input_ids"]
        served = httpx.post(
            base_url + "/v1/completions",
            timeout=60,
            json={
                "prompt": ids,
                "max_tokens": 16,
                "temperature": 0,
                "ignore_eos": True,
                "logprobs": 0,
            },
        ).json()
        got = served["choices"][0]["logprobs"]["tokens"]
        seq = list(ids)
        ref: list[int] = []
        margins: list[float] = []
        with torch.no_grad():
            for _ in range(16):
                logits = model(input_ids=torch.tensor([seq])).logits[0, -1]
                top2 = torch.topk(logits, 2)
                ref.append(int(top2.indices[0]))
                margins.append(float(top2.values[0] - top2.values[1]))
                seq.append(ref[-1])
        ref_tokens = [tok.decode([t]) for t in ref]
        if got == ref_tokens:
            exact += 1
            continue
        k = next(i for i, (a, b) in enumerate(zip(ref_tokens, got, strict=False)) if a != b)
        assert margins[k] < TIE, (prompt, k, margins[k], got, ref_tokens)
    assert exact >= len(PROMPTS) - 1, f"only {exact} of {len(PROMPTS)} prompts matched exactly"
