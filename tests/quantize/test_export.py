"""A tiny model round-trips through every scheme: the files hold our codes, transformers and vLLM
load them (vLLM through llm-serve, short prompts included, on llm-quantize's own outputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from safetensors.torch import load_file

from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from quantize.export_ct import SCHEMES, LayerCodes, linear_weights, write_compressed_tensors
from quantize.pack import unpack_int4
from quantize.rtn import dequantize, rtn
from tests.quantize.conftest import W4A16_REFUSED, assert_refused_in_one_line, int4_served_here

GROUP = {"w4a16": 32, "w8a16": None, "w8a8": None}


def quantized(tiny_llama: Path, tmp: Path, scheme: str) -> tuple[Path, dict[str, LayerCodes]]:
    bits = SCHEMES[scheme][0]
    layers = {
        n: LayerCodes(*rtn(w, bits, GROUP[scheme]))
        for n, w in linear_weights(tiny_llama, ["lm_head"]).items()
    }
    out = tmp / scheme
    write_compressed_tensors(tiny_llama, out, scheme, GROUP[scheme], layers)
    return out, layers


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_files_hold_our_codes_and_transformers_loads_them(
    tiny_llama: Path, tmp_path: Path, scheme: str
) -> None:
    out, layers = quantized(tiny_llama, tmp_path, scheme)
    sd = load_file(str(out / "model.safetensors"))
    name = "model.layers.0.mlp.down_proj"
    codes = layers[name].codes
    if SCHEMES[scheme][0] == 4:
        stored = unpack_int4(sd[name + ".weight_packed"], codes.shape[1])
    else:
        stored = (
            sd[name + ".weight_packed"] if name + ".weight_packed" in sd else sd[name + ".weight"]
        )
        if stored.dtype == torch.int32:  # 8-bit pack-quantized: four int8 per int32
            from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32

            stored = unpack_from_int32(stored, 8, codes.shape)
    assert torch.equal(stored.to(torch.int8), codes)
    assert (out / "config.json").read_text().count("compressed-tensors") >= 1
    assert not list(tmp_path.glob(".*tmp*")), "temporary export directory left behind"

    from transformers import AutoModelForCausalLM

    ref = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32)
    for n, lc in layers.items():
        ref.get_submodule(n).weight.data = dequantize(
            lc.codes, lc.scales.bfloat16().float(), GROUP[scheme]
        )
    q = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    ids = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11]])
    with torch.no_grad():
        a, b = ref(input_ids=ids).logits, q(input_ids=ids).logits
    if scheme == "w8a8":  # activations are quantized too: only close, not equal
        assert torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0) > 0.99
    else:
        torch.testing.assert_close(b, a, rtol=0.02, atol=0.02)


@pytest.mark.integration
def test_checkpoints_vllm_cannot_run_here_are_refused_in_one_line_before_loading(
    reports: dict[str, dict[str, Any]],
) -> None:
    """W8A16 on CPU and bitsandbytes: llm-serve exits 1 with one line, before the engine loads.
    Both servers start at once (no engine ever runs, so they only share the imports' CPU)."""
    import subprocess
    import time

    expected = {
        "w8a16-rtn": "llm-serve: error: W8A16 (8-bit weight-only) checkpoints do not run on CPU",
        "bnb-nf4": "llm-serve: error: bitsandbytes checkpoints do not load in this vLLM",
    }
    t0 = time.monotonic()
    procs = {
        run: subprocess.Popen(
            llm_serve_argv(reports[run]["_dir"], free_port()),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run in expected
    }
    for run, proc in procs.items():
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 1, err[-2000:]
        assert expected[run] in err and "Traceback" not in err, err[-2000:]
    assert time.monotonic() - t0 < 90  # before the engine loads: no model is ever read


@pytest.mark.integration
# AWQ and RTN write the int4 pack-quantized layout GPTQ does (all load in transformers, in
# test_cli.py); one int4 and one int8 checkpoint go through llm-serve
@pytest.mark.parametrize("run", ["w4a16-gptq", "w8a8-smoothquant"])
def test_llm_serve_serves_it(reports: dict[str, dict[str, Any]], tmp_path: Path, run: str) -> None:
    if run.startswith("w4a16") and not int4_served_here():
        assert_refused_in_one_line(Path(reports[run]["_dir"]), W4A16_REFUSED)
        return
    port = free_port()
    argv = llm_serve_argv(reports[run]["_dir"], port, "--enforce-eager", "--max-model-len", "256")
    with ServerProcess(argv, port, tmp_path / "serve.log") as srv:
        for prompt in ("Hi", "", "x", "def main():\n    " * 8):
            r = httpx.post(
                srv.base_url + "/v1/completions",
                timeout=60,
                json={"prompt": prompt, "max_tokens": 4, "temperature": 0},
            )
            assert r.status_code == 200, r.text
            assert r.json()["usage"]["completion_tokens"] >= 1
        assert httpx.get(srv.base_url + "/ready").status_code == 200
