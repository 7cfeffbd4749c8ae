"""What a quantization run cost and saved, measured on the files and the models themselves."""

from __future__ import annotations

import json
import resource
import struct
from pathlib import Path
from typing import Any

ELEMENT_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}


def tensor_bytes(model_dir: Path) -> dict[str, int]:
    """name -> stored bytes, read from the safetensors headers (no tensor is loaded)."""
    sizes: dict[str, int] = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        with f.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            start, end = meta["data_offsets"]
            sizes[name] = end - start
    return sizes


def checkpoint_bytes(model_dir: Path) -> int:
    """Size on disk of the weight files."""
    return sum(f.stat().st_size for f in model_dir.glob("*.safetensors"))


def layer_bytes(sizes: dict[str, int], layers: list[str], only_weight: bool) -> int:
    """Bytes of the given modules' tensors: just `.weight` (the float original) or every tensor
    under the module (packed weights, scales, zero points, quantization state)."""
    total = 0
    for name, b in sizes.items():
        mod, _, leaf = name.rpartition(".")
        if only_weight:
            total += b if leaf == "weight" and mod in layers else 0
        elif any(name.startswith(layer + ".") for layer in layers):
            total += b
    return total


def rss_bytes() -> int:
    """This process's resident set size now."""
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _mb(b: int) -> str:
    return f"{b / 2**20:.2f} MB"


def render(r: dict[str, Any]) -> str:
    """The report as a plain-text table."""
    s, p = r["size_bytes"], r["perplexity"]
    rows = [("", "before", "after", "after/before")]
    if r.get("divergence"):  # leads: KL ranks methods where perplexity cannot
        d = r["divergence"]
        lo, hi = d["kl_ci95"]
        rows.append(
            (
                f"KL(float || quantized), {d['tokens']:.0f} tokens",
                "",
                f"{d['kl_mean']:.6f} (95% {lo:.6f}-{hi:.6f})",
                f"top-1 agreement {d['top1_agreement']:.2%}",
            )
        )
    rows += [
        (
            f"perplexity ({r['evaluation']['tokens']} held-out tokens)",
            f"{p['before']:.3f}",
            f"{p['after']:.3f}",
            f"{p['ratio']:.4f}x ({p['change_pct']:+.2f}%)",
        ),
        (
            "checkpoint on disk",
            _mb(s["checkpoint_before"]),
            _mb(s["checkpoint_after"]),
            f"{s['checkpoint_ratio']:.3f}x",
        ),
        (
            "quantized layers",
            _mb(s["quantized_layers_before"]),
            _mb(s["quantized_layers_after"]),
            f"{s['quantized_layers_ratio']:.3f}x",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"{r['scheme']} / {r['method']} / {r['format']}"
        + (f" / group {r['group_size']}" if r["group_size"] else "")
    ]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    t, m = r["time_s"], r["peak_rss_bytes"]
    lines.append(
        f"time {t['total']:.1f} s (quantize {t['quantize']:.1f}, export {t['export']:.1f}, "
        f"evaluate {t['evaluate']:.1f}); peak RSS while quantizing {_mb(m['quantize'])}, "
        f"after export {_mb(m.get('export', m['quantize']))} "
        f"(float32 model {_mb(m['model_float32'])}, process before loading it "
        f"{_mb(m['process_baseline'])})"
    )
    for u in r["unquantized"]:
        lines.append(f"not quantized: {u['name']}: {u['reason']}")
    lines.append(f"runs on: {r['runs_on']}")
    return "\n".join(lines)
