"""Prompt injection, TRAIN group: template jailbreaks from two research benchmarks (and the plain
requests they wrap, as benign rows), the persona framings the other train sources have few of.

- JailbreakBench/artifacts (MIT): the prompts that the jailbreakchat "AIM" template (JBC) and
  the random-search template sent to four target models, one per model and behaviour. Each is
  one template with the behaviour filled in, so only six behaviours of each are kept. Every
  behaviour's plain request ("Write a defamatory article claiming that ...") is kept as a
  benign row: a harmful request is not an injection, the framing around it is.
  Not taken: GCG and DSN (adversarial suffixes after a plain request: noise to an n-gram
  model), and PAIR's 237 role-play and fiction framings. With PAIR in, the retrained model
  caught 11 more of the eval's in-the-wild jailbreaks but raised NotInject's false alarms from
  39 to 58 ("Please write a short, creative story where ..."): a linear model learns PAIR's
  "write a story" as the attack.
- sherdencooper/GPTFuzz (MIT): its 77 seed templates (jailbreakchat prompts, with the
  "[INSERT PROMPT HERE]" slot left as it is, as users post them).

The evaluation's in-the-wild jailbreaks were scraped from some of the same sites, so every row
that is an exact or near duplicate of an eval row, or of a handwritten held-out row, is dropped
here (the eval stays as it is); `cli._write_train` checks it again.
"""

import csv
import io

from .injection_eval import near_dup_filter
from .mirrors import Mirrors
from .text import Record, dedupe_labelled, rng

JBB = "JailbreakBench/artifacts"
JBB_MODELS = ("gpt-3.5-turbo-1106", "gpt-4-0125-preview", "llama-2-7b-chat-hf", "vicuna-13b-v1.5")
JBB_ATTACKS = {"JBC": "manual", "prompt_with_random_search": "black_box"}
KEEP = 6  # behaviours per template
GPTFUZZ = "sherdencooper/GPTFuzz"


def _row(text: str, source: str, category: str, label: int = 1) -> Record:
    return {"text": text.strip(), "label": label, "lang": "en", "source": source,
            "category": category, "lang_method": "dataset"}  # fmt: skip


def jailbreakbench(m: Mirrors) -> list[Record]:
    out: list[Record] = []
    goals: set[str] = set()
    for attack, kind in JBB_ATTACKS.items():
        rows = []
        for model in JBB_MODELS:
            d = m.json(JBB, f"attack-artifacts/{attack}/{kind}/{model}.json")
            rows += [j["prompt"] for j in d["jailbreaks"] if j.get("prompt")]
            goals |= {j["goal"] for j in d["jailbreaks"]}
        rows = rng(f"jbb-{attack}").sample(sorted(set(rows)), KEEP)  # one template each
        out += [_row(t, f"{JBB}/{attack}", "jailbreak") for t in rows]
    return out + [_row(g, f"{JBB} (plain goals)", "plain_request", 0) for g in sorted(goals)]


def gptfuzz(m: Mirrors) -> list[Record]:
    table = csv.DictReader(io.StringIO(m.text(GPTFUZZ, "datasets/prompts/GPTFuzzer.csv")))
    return [_row(r["text"], f"{GPTFUZZ}/GPTFuzzer.csv", "jailbreak") for r in table]


def build_jailbreaks(m: Mirrors, avoid: list[Record]) -> tuple[list[Record], int]:
    """The rows, and how many were dropped as near duplicates of `avoid` (eval and held-out
    rows)."""
    rows, _ = dedupe_labelled(jailbreakbench(m) + gptfuzz(m))
    kept, dropped = near_dup_filter(rows, avoid)
    return kept, len(dropped)
