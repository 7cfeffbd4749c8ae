"""Where benchmark results go and the names they carry: the results folder, the engine flags
both servers get, the two servers' labels, and the README's performance table."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
# both servers in vLLM's default (compiled) mode, the mode `make serve` uses (issue 17)
FLAGS = "--dtype bfloat16 --max-model-len 1024"
OURS, REF = "llm-serve", "vllm"


def update_readme(table: str, marker: str = "perf-table", readme: Path = README) -> None:
    """Replace what lies between the README's `<!-- {marker}:start/end -->` lines with `table`."""
    text = readme.read_text()
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{readme.name} lacks the {marker} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{table}\n{end}{tail}")
