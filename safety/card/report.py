"""card.json (everything), card.md (the tables and how to read them) and card.png (every
difference with its interval)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

HOW_TO_READ = (
    "Each row measures the base and the candidate on the same items; `change` is candidate minus "
    "base (a relative change for perplexity, a ratio for latency) and the interval is a paired "
    "bootstrap 95% interval over the items. An interval that contains 0 (1 for a ratio) means "
    "this item set cannot tell the two models apart on that row; its width is what the set can "
    "resolve, so on a small model and the default sets, shifts of a few points in a bias or "
    "safety rate are within noise. Agreement rows describe the candidate against the base "
    "(the base agrees with itself fully)."
)


def _fmt(x: float | None, kind: str = "difference") -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    if kind == "relative":
        return f"{x:+.2%}"
    if kind == "ratio":
        return f"{x:.3f}x"
    if kind == "difference":
        return f"{x:+.3f}"
    return f"{x:.3f}"


def _value(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.4g}" if abs(x) >= 10 else f"{x:.3f}"


def _name(side: dict[str, Any]) -> str:
    return Path(side["dir"]).name if "dir" in side else str(side["model"])


def _where(side: dict[str, Any]) -> str:
    if "dir" in side:
        return f"`{side['dir']}` (served by llm-serve as `{side['model']}`)"
    return f"`{side['model']}` at {side['url']}"


def render(card: dict[str, Any]) -> str:
    lines = [
        f"# Recovery card: {_name(card['candidate'])} against {_name(card['base'])}",
        "",
        f"Base: {_where(card['base'])}; candidate: {_where(card['candidate'])}.",
        "",
        HOW_TO_READ,
        "",
        "| section | metric | base | candidate | change | 95% interval | items |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in card["rows"]:
        kind = r["kind"]
        shown = "difference" if kind == "value" else kind
        ci = r["ci95"]
        interval = f"{_fmt(ci[0], shown)} .. {_fmt(ci[1], shown)}"
        change = "-" if kind == "value" else _fmt(r["change"], kind)
        if kind == "value":
            interval = f"{_fmt(ci[0], 'value')} .. {_fmt(ci[1], 'value')}"
        lines.append(
            f"| {r['section']} | {r['metric']} | {_value(r['base'])} | "
            f"{_value(r['candidate'])} | {change} | {interval} | {r['items']} |"
        )
    lines += _attention_md(card.get("attention"))
    lines += _gate_md(card["gate"])
    return "\n".join(lines) + "\n"


def _attention_md(att: dict[str, Any] | None) -> list[str]:
    if not att:
        return []
    if "skipped" in att:
        return ["", f"Attention: not compared ({att['skipped']})."]
    lines = [
        "",
        f"Attention ({att['prompts']} prompts): mean Jensen-Shannon distance between base and "
        f"candidate rows {att['js_distance_mean']:.4f} (0 = the same, 1 = disjoint), largest "
        f"{att['js_distance_max']:.4f} at layer {att['most_changed_head'][0]}, head "
        f"{att['most_changed_head'][1]}.",
        "",
        "| layer | JS distance per head | entropy per head, base (nats) | candidate |",
        "|---|---|---|---|",
    ]
    for i, (js, eb, ec) in enumerate(
        zip(
            att["js_distance"], att["entropy_base_nats"], att["entropy_candidate_nats"], strict=True
        )
    ):
        lines.append(
            f"| {i} | {' '.join(f'{x:.3f}' for x in js)} | "
            f"{' '.join(f'{x:.2f}' for x in eb)} | {' '.join(f'{x:.2f}' for x in ec)} |"
        )
    return lines


def _gate_md(gate: dict[str, Any]) -> list[str]:
    set_ = {k: v for k, v in gate["thresholds"].items() if v is not None}
    if not set_:
        return ["", "Gate: no thresholds set."]
    verdict = "**failed**: " + "; ".join(gate["failures"]) if gate["failures"] else "passed"
    return ["", f"Gate ({', '.join(f'{k}={v}' for k, v in set_.items())}): {verdict}."]


def plot(card: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: dict[str, list[dict[str, Any]]] = {}
    for r in card["rows"]:
        if not math.isnan(r["ci95"][0]):
            panels.setdefault(r["section"].split(":")[0], []).append(r)
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(5 * len(panels), 0.3 * max(len(v) for v in panels.values()) + 2.5),
        squeeze=False,
    )
    for ax, (name, rows) in zip(axes[0], panels.items(), strict=True):
        ys = range(len(rows))
        centre = [r["candidate"] if r["kind"] == "value" else r["change"] for r in rows]
        lo = [c - r["ci95"][0] for c, r in zip(centre, rows, strict=True)]
        hi = [r["ci95"][1] - c for c, r in zip(centre, rows, strict=True)]
        ax.errorbar(centre, list(ys), xerr=[lo, hi], fmt="o", capsize=3, color="#4477aa")
        ax.axvline(1.0 if rows[0]["kind"] in ("ratio", "value") else 0.0, color="k", lw=1, ls="--")
        ax.set_yticks(
            list(ys),
            [f"{r['section'].split(': ')[-1][:18]}: {r['metric'][:24]}" for r in rows],
            fontsize=7,
        )
        ax.set_title(name)
    fig.suptitle(f"{_name(card['candidate'])} vs {_name(card['base'])}: change, 95% interval")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(card: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "card.json", out / "card.md", out / "card.png"]
    paths[0].write_text(json.dumps(card, indent=2) + "\n")
    paths[1].write_text(render(card))
    plot(card, paths[2])
    return paths


def summary(card: dict[str, Any]) -> list[str]:
    """A card's headline rows for the README: quality, agreement, the largest bias and safety
    shifts (with their intervals), latency and attention."""
    rows = card["rows"]

    def line(r: dict[str, Any]) -> str:
        kind = r["kind"]
        ci = f"{_fmt(r['ci95'][0], kind)} .. {_fmt(r['ci95'][1], kind)}"
        change = _fmt(r["candidate"], "value") if r["kind"] == "value" else _fmt(r["change"], kind)
        values = f"{_value(r['base'])} | {_value(r['candidate'])}"
        return f"| {r['section']} | {r['metric']} | {values} | {change} | {ci} |"

    def largest(prefix: str) -> list[dict[str, Any]]:
        found = [r for r in rows if r["section"].startswith(prefix)]
        return [max(found, key=lambda r: abs(r["change"]))] if found else []

    keep = [r for r in rows if r["section"] in ("quality", "agreement", "latency")]
    keep += [r for r in rows if r["metric"] == "all"]
    keep += largest("bias") + largest("safety")
    att = card.get("attention")
    lines = [f"**{_name(card['candidate'])}** against **{_name(card['base'])}**:", "",
             "| section | metric | base | candidate | change | 95% interval |",
             "|---|---|---|---|---|---|", *(line(r) for r in keep)]  # fmt: skip
    if att and "skipped" not in att:
        lines += ["", f"Attention: mean Jensen-Shannon distance {att['js_distance_mean']:.4f}, "
                  f"largest {att['js_distance_max']:.4f} (layer {att['most_changed_head'][0]}, "
                  f"head {att['most_changed_head'][1]})."]  # fmt: skip
    return lines
