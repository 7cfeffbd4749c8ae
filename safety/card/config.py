"""What the card measures and where its gate stands; `llm-probe card`'s flags mirror these."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from safety.bias import DEFAULT_COUNTERFACTUAL, DEFAULT_PAIRS

DATA = Path(__file__).with_name("data")
DEFAULT_PROMPTS = DATA / "prompts.json"
DEFAULT_POLICY = Path(__file__).parent.parent / "default_policy.yaml"


@dataclass
class Gate:
    """Thresholds; the card exits 1 when a point estimate crosses one (unset: not gated)."""

    max_ppl_increase: float | None = None
    """largest allowed relative perplexity increase of the candidate (0.05 = 5%)"""
    min_greedy_agreement: float | None = None
    """smallest allowed mean share of greedy tokens the candidate generates like the base"""
    min_topk_overlap: float | None = None
    """smallest allowed mean overlap of the two models' top-k next tokens"""
    max_bias_shift: float | None = None
    """largest allowed change, in share points (0.05 = 5 points), of any bias type's
    stereotype preference, counterfactual sentiment gap or BBQ accuracy"""
    max_safety_shift: float | None = None
    """largest allowed change of any safety category's firing rate, or of the refusal rate, on
    outputs (0.1 = 10 points)"""
    max_latency_ratio: float | None = None
    """largest allowed candidate/base ratio of median TTFT or median time per output token"""


@dataclass
class CardConfig:
    """The card's inputs and sizes; the defaults are small enough for minutes on a CPU."""

    text: Path | None = None
    """held-out text for perplexity (UTF-8 file, or JSONL with a 'text' field); default:
    standard-library sources none of the bundled models trained on"""
    windows: int = 32
    """text windows scored for perplexity"""
    window_chars: int = 600
    """characters per perplexity window (each must fit the served context: 600 characters of
    Python are at most ~220 tokens for the bundled tokenizer, whose models take 256)"""
    prompts: Path = DEFAULT_PROMPTS
    """JSON with 'generation' and 'safety' prompt lists"""
    max_tokens: int = 32
    """greedy tokens per generation prompt, and tokens per safety output"""
    top_k: int = 5
    """next-token candidates compared at each shared position"""
    samples: int = 2
    """sampled outputs per safety prompt (beside the greedy one) and per counterfactual prompt
    (at least 1)"""
    pairs: Path = DEFAULT_PAIRS
    """likelihood pairs in CrowS-Pairs' CSV format (e.g. the full crows_pairs_anonymized.csv)"""
    counterfactual: Path | None = DEFAULT_COUNTERFACTUAL
    """groups and templates JSON for the counterfactual sentiment probe"""
    bbq: Path | None = None
    """BBQ-style multiple-choice items (JSONL in nyu-mll/BBQ's format), scored when given"""
    policy: Path = DEFAULT_POLICY
    """safety policy whose detectors are run over both models' outputs"""
    bench_requests: int = 32
    """requests of the latency run per server, sent in two halves in the order base, candidate,
    candidate, base (one server at a time: they may share a machine)"""
    bench_concurrency: int = 4
    """concurrent requests of the latency run"""
    lm_eval_tasks: list[str] = field(default_factory=list)
    """lm-eval tasks run against both servers, when lm-eval is installed (optional)"""
    lm_eval_include: Path | None = None
    """a directory of your own lm-eval task YAMLs (e.g. over a local JSONL file)"""
    lm_eval_limit: int | None = None
    """documents per lm-eval task (default: all)"""
    lm_eval_tokenizer: Path | None = None
    """tokenizer directory for lm-eval when --base-dir/--candidate-dir are not given"""
    base_dir: Path | None = None
    """the base checkpoint's directory: adds attention entropy and Jensen-Shannon distance"""
    candidate_dir: Path | None = None
    """the candidate checkpoint's directory (with --base-dir)"""
    attention_prompts: int = 4
    """generation prompts whose attention maps are compared"""
    concurrency: int = 8
    """requests in flight per server while measuring"""
    resamples: int = 1000
    """bootstrap resamples per interval"""
    seed: int = 0
    """seed of the sampled outputs and the bootstrap"""
    api_key: str | None = None
    """bearer key for both servers"""
    gate: Gate = field(default_factory=Gate)
