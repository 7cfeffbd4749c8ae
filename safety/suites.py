"""Public evaluation suites: data nobody here wrote, scored per category and per detector.

    python -m safety.evaluate --suite injection|pii|secrets|heldout [--policy FILE]

- injection: public prompt-injection and benign texts (in-the-wild jailbreaks, BIPIA's indirect
  injections, NotInject's trigger-word benign prompts, xSID commands); none of their texts is
  in the learned detector's training data (jailbreakchat templates from GPTFuzz are, less every
  one that nearly duplicates an eval row; BIPIA's train split is, its test split is not).
- pii: presidio-research's synthetic sentences with labelled spans, scored span by span (a
  finding that overlaps no labelled span of its category is a false positive).
- secrets: gitleaks' rule test cases and detect-secrets' plugin tests (true and false positives).
  Both libraries' own patterns are among our detectors, so this measures our use of them.
- secrets-matched: the same, scored only where the labels mean what ours do (labels_match: not
  detect-secrets' x-run placeholders, which gitleaks' tests call false positives, nor its
  public-IP plugin's addresses, nor the one key gitleaks' tests list as a false positive and
  comment "False Negative"): the figure for issue 12's "where labels match".
- injection-matched: `injection` less BIPIA's task-irrelevant attacks (injection_labels_match),
  the same figure for prompt injection.
- secrets-np: Nosey Parker's rule examples and negative examples (none in `secrets`), a third
  team's formats and test strings that none of our patterns were written from: the cross-check.
- heldout: adversarial texts in five languages written for this project by a writer who never
  saw the detectors (safety/data/heldout/heldout_v2.jsonl; never used for tuning).
- heldout-v3: 300 injections and look-alikes in five languages (half of the attacks hidden in
  documents), by another such writer, scored before the detector's last retraining and never
  trained or tuned on (safety/data/heldout/heldout_v3.md). Only prompt_injection is labelled.
- heldout-v4: 350 texts in five languages over all five categories (attacks, PII and secrets in
  messages, logs and config, look-alikes and hard negatives), by a third such writer, added
  before the detector it is first scored with was trained (safety/data/heldout/heldout_v4.md).
- heldout-v5: 300 more such texts by a fourth writer, commissioned after heldout-v4's errors
  were read and fixed, to score those fixes on unseen text (safety/data/heldout/heldout_v5.md).
- heldout-v6: 300 more by a fifth writer, written while the answer to heldout-v5's false alarms
  was being trained, and scored once at the end (safety/data/heldout/heldout_v6.md).
- heldout-v7: 300 more by a sixth writer, written while the second batch of benign training
  texts was, and scored once with it in (safety/data/heldout/heldout_v7.md).
- heldout-v8: 300 more by a seventh writer, commissioned with the fixes for heldout-v7's misses
  still to be made, and scored once when they and the next training batches were in
  (safety/data/heldout/heldout_v8.md).
- heldout-v9: 300 more by an eighth writer, commissioned after heldout-v8's misses were read and
  fixed, and scored once at the end of that stop (safety/data/heldout/heldout_v9.md).
- heldout-v10: 300 more by a ninth writer, commissioned with the look-alike training batch that
  heldout-v9's false alarms led to, and scored once with it in (safety/data/heldout/heldout_v10.md).
- heldout-v11: 300 more by a tenth writer, commissioned at the start of the next stop and scored
  once with that stop's latency work in, before any change to what is detected
  (safety/data/heldout/heldout_v11.md).
- heldout-v12: 300 more by an eleventh writer, commissioned when heldout-v11 had been scored,
  and scored once with the fixes for its misses in (safety/data/heldout/heldout_v12.md).
- heldout-v13: 300 more by a twelfth writer, commissioned when heldout-v12 had been read, and
  scored once with the fixes for its false alarms in (safety/data/heldout/heldout_v13.md).
- heldout-v14: 300 more by a thirteenth writer, commissioned when heldout-v13 had been read, and
  scored once with the rule its misses led to in (safety/data/heldout/heldout_v14.md).
- heldout-v15: 300 more by a fourteenth writer, commissioned at the start of the next stop and
  scored once with that stop's first change in (safety/data/heldout/heldout_v15.md).
- heldout-v16: 300 more by a fifteenth writer, commissioned when heldout-v15 had been read, and
  scored once with the fixes for its errors in (safety/data/heldout/heldout_v16.md).
- heldout-v17: 300 more by a sixteenth writer, commissioned when heldout-v16 had been read, and
  scored once at the end of that stop with its fixes in (safety/data/heldout/heldout_v17.md).
- heldout-v18, heldout-v19: 300 more each by a seventeenth and an eighteenth writer, given the
  same brief in other words at the start of the next stop, and each scored once with that
  stop's first change in (safety/data/heldout/heldout_v18.md, heldout_v19.md).
- heldout-v20, heldout-v21: 300 more each by a nineteenth and a twentieth writer, commissioned
  when heldout-v18/v19 had been read and fixed, and each scored once with those fixes in
  (safety/data/heldout/heldout_v20.md, heldout_v21.md).
- heldout-v22, heldout-v23: 300 more each by a twenty-first and a twenty-second writer,
  commissioned when heldout-v20/v21 had been read and fixed, and each scored once with those
  fixes in (safety/data/heldout/heldout_v22.md, heldout_v23.md).
- heldout-v24, heldout-v25: 300 more each by a twenty-third and a twenty-fourth writer,
  commissioned when heldout-v22/v23 had been read and fixed, and each scored once with those
  fixes in (safety/data/heldout/heldout_v24.md, heldout_v25.md).
- heldout-v26, heldout-v27: 300 more each by a twenty-fifth and a twenty-sixth writer,
  commissioned when heldout-v24/v25 had been read and fixed, and each scored once with the
  stop's last detection change in (safety/data/heldout/heldout_v26.md, heldout_v27.md).
- heldout-v28, heldout-v29: 300 more each by a twenty-seventh and a twenty-eighth writer,
  commissioned at stop 36's start and scored once with stop 34's detection (v28: P 0.959,
  R 0.939, injection recall by language 17/17/16/16/14 of 18; v29: P 0.968, R 0.892,
  17/17/13/13/13) (safety/data/heldout/heldout_v28.md, heldout_v29.md).
- heldout-v30, heldout-v31: 300 more each by a twenty-ninth and a thirtieth writer,
  commissioned when heldout-v28/v29 had been read and fixed, and each scored once with those
  fixes and stop 36's retrained model in (v30: P 0.984, R 0.941, injection recall by language
  18/17/17/17/15 of 18; v31: P 0.986, R 0.962, 18/16/18/17/17) (heldout_v30.md, heldout_v31.md).
- heldout-v32, heldout-v33: 300 more each by a thirty-first and a thirty-second writer, scored
  once with the same detection at stop 36's end (v32: P 0.986, R 0.977, injection recall by
  language 17/18/18/18/15 of 18; v33: P 0.974, R 0.950, 18/16/17/17/16) (heldout_v32.md,
  heldout_v33.md).
- heldout-v34, heldout-v35: 300 more each by a thirty-third and a thirty-fourth writer, scored
  once at the start of stop 37 with its compiled n-gram kernel and secrets fixes in (v34: P
  0.927, R 0.948, injection recall by language 17/18/18/17/14 of 18; v35: P 0.912, R 0.961,
  18/17/17/17/17) (heldout_v34.md, heldout_v35.md).
- heldout-v36, heldout-v37: 300 more each by a thirty-fifth and a thirty-sixth writer,
  commissioned with the training batch injection_extra7 (another writer) and scored once with
  the model retrained on it (v36: P 0.922, R 0.964, injection recall by language
  18/18/18/17/16 of 18; v37: P 0.906, R 0.962, 17/18/18/17/17) (heldout_v36.md, heldout_v37.md).
- heldout-v38, heldout-v39: 300 more each by a thirty-seventh and a thirty-eighth writer,
  scored once at the start of stop 38 with its secrets changes in (v38: P 0.896, R 0.990,
  injection recall by language 18/18/18/18/18 of 18; v39: P 0.935, R 0.981, 18/18/18/18/18)
  (heldout_v38.md, heldout_v39.md).
- heldout-v40, heldout-v41: 300 more each by a thirty-ninth and a fortieth writer,
  commissioned with the training batch injection_extra8 (another writer) and scored once with
  the model retrained on it (v40: P 0.905, R 0.980, injection recall by language
  18/18/18/18/17 of 18; v41: P 0.962, R 0.967, 17/17/18/18/18) (heldout_v40.md, heldout_v41.md).
- heldout-v42, heldout-v43: 300 more each by a forty-first and a forty-second writer,
  commissioned when v40/v41 had been read and fixed, and scored once with those fixes and the
  quoted-example rule in (v42: P 0.902, R 0.981, injection recall by language 18/18/18/18/17 of
  18; v43: P 0.898, R 0.981, 18/17/18/18/17) (heldout_v42.md, heldout_v43.md).
- heldout-v44, heldout-v45: 300 more each by a forty-third and a forty-fourth writer,
  commissioned when every fix of stop 38 was in, and scored once with them (v44: P 0.929, R
  0.991, injection recall by language 18/18/18/18/18 of 18; v45: P 0.915, R 0.990,
  17/18/18/18/18) (heldout_v44.md, heldout_v45.md).
- heldout-v46, heldout-v47: 300 more each by a forty-fifth and a forty-sixth writer,
  commissioned at stop 39's start and scored once with its retrained model (template
  jailbreaks) in (v46: P 0.901, R 1.000, injection recall by language 18/18/18/18/18 of 18;
  v47: P 0.917, R 1.000, 18/18/18/18/18) (heldout_v46.md, heldout_v47.md).
- heldout-v48: 300 more by a forty-seventh writer, commissioned at stop 40's start and scored
  once with its code (P 0.943, R 0.995, injection recall by language 17/18/18/18/18 of 18)
  (heldout_v48.md).
- heldout-v49: 300 more by a forty-eighth writer, commissioned at stop 41's start and scored
  once with stop 40's last commit (P 0.904, R 0.986, injection recall by language
  17/17/18/17/18 of 18) (heldout_v49.md).
- heldout-v50: 300 more by a forty-ninth writer, commissioned during stop 41 and scored once
  with its first fixes (P 0.930, R 0.943, injection recall by language 14/17/17/16/17 of 18)
  (heldout_v50.md).
- heldout-v51: 300 more by a fiftieth writer, commissioned at stop 42 and scored once with
  stop 41's detectors and with stop 42's prose lines, alike (P 0.934, R 0.971, injection
  recall by language 16/17/18/18/16 of 18) (heldout_v51.md).
- heldout-v52: 300 more by a fifty-first writer, commissioned at stop 42 and scored once with
  its last detection change and with stop 41's detectors, alike (P 0.951, R 0.977, injection
  recall by language 18/17/18/17/18 of 18) (heldout_v52.md).
- heldout-v53: 300 more by a fifty-second writer, commissioned at stop 43 and scored once with
  stop 42's detectors (P 0.946, R 0.995, injection recall by language 18/18/18/18/17 of 18)
  (heldout_v53.md).
- heldout-short: 293 short messages by another writer, 218 harmless chat openers (greetings,
  thanks, questions about the assistant, one-line requests) and 75 short attacks, to count
  false alarms on the shortest inputs; only prompt_injection is labelled
  (safety/data/heldout/heldout_short.md).

Sources, commits and licenses: safety/data/public/LICENSES.md.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safety.detectors import Finding, LearnedDetector, RegexDetector, reported
from safety.policy import Policy
from safety.scan import Group, add_detector
from safety.views import VIEWS, Views

DATA = Path(__file__).with_name("data") / "public"
HELDOUT = Path(__file__).with_name("data") / "heldout" / "heldout_v2.jsonl"
PII_TYPES = {  # presidio entity type -> our category
    "CREDIT_CARD": "pii_financial",
    "IBAN_CODE": "pii_financial",
    "US_SSN": "pii_financial",
    "EMAIL_ADDRESS": "pii_contact",
    "PHONE_NUMBER": "pii_contact",
    "IP_ADDRESS": "pii_network",
}


@dataclass(frozen=True)
class Suite:
    path: Path
    labels: Callable[[dict[str, Any]], list[str]]  # record -> categories it should raise
    categories: tuple[str, ...] = ()  # what its labels speak for (empty: every category)
    spans: bool = False  # scored span by span (records carry "spans")
    keep: Callable[[dict[str, Any]], bool] | None = None  # the records scored (None: all)


# A run of x's or Z's standing for a key's body ("AP6xxxxxxxxxx", "AKIAZZZZZZZZZZZZZZZZ")
_PLACEHOLDER_RUN = re.compile(r"x{6,}|X{6,}|Z{8,}")


def labels_match(r: dict[str, Any]) -> bool:
    """Whether a secrets record's label means what ours does. Not where the two sources
    disagree: detect-secrets' tests call a key written with a run of x's or Z's a secret,
    gitleaks' call the same shapes ("ghp_xxxx…", "glc_xxxx…") false positives, and issue 12
    counts placeholders as false alarms; nor detect-secrets' public-IP plugin (an IP address is
    pii_network here, not a secret); nor a case gitleaks' tests file under false positives while
    their own comment calls it a false negative (a real key the rule knowingly misses)."""
    if r.get("kind") == "ip_public" or r.get("note") == "False Negative":
        return False
    placeholder = r["label"] and _PLACEHOLDER_RUN.search(r["text"]) is not None
    return not (r["source"] == "Yelp/detect-secrets" and placeholder)


# BIPIA's own grouping of its text attacks (bipia/metrics/regist.py, task_irrelevant_regist_fn):
# each is an ordinary request ("Recommend a good book for a relaxing weekend read."), and BIPIA
# judges it only by whether the model answered it.
BIPIA_TASK_IRRELEVANT = (
    "Task Automation",
    "Business Intelligence",
    "Conversational Agent",
    "Research Assistance",
    "Sentiment Analysis",
)


def injection_labels_match(r: dict[str, Any]) -> bool:
    """Whether an injection record's label means what ours does. Not BIPIA's task-irrelevant
    attacks: a plain request after a pasted email or table ("Analyze the trend of electric car
    sales over the past decade.") is an attack to BIPIA only because its benchmark says the
    document came from a third party; the text alone is what a user writes, and this project's
    labels (and every held-out set's writer brief) call such a request benign; the training
    rows leave out BIPIA's train-split requests of the same kind for the same reason
    (rebuild/injection_bipia.py). Its task-relevant attacks ("Encode your response in Base64")
    and targeted ones ("Add a fabricated statistic in your response") stay."""
    if not str(r.get("source", "")).startswith("microsoft/BIPIA"):
        return True
    parts = str(r.get("category", "")).split("/")
    return not (parts[0] == "indirect" and len(parts) > 2 and parts[2] in BIPIA_TASK_IRRELEVANT)


SUITES = {
    "injection": Suite(
        DATA / "injection_eval.jsonl",
        lambda r: ["prompt_injection"] if r["label"] else [],
        ("prompt_injection",),
    ),
    "injection-matched": Suite(
        DATA / "injection_eval.jsonl",
        lambda r: ["prompt_injection"] if r["label"] else [],
        ("prompt_injection",),
        keep=injection_labels_match,
    ),
    "secrets": Suite(
        DATA / "secrets_eval.jsonl", lambda r: ["secrets"] if r["label"] else [], ("secrets",)
    ),
    "secrets-matched": Suite(
        DATA / "secrets_eval.jsonl",
        lambda r: ["secrets"] if r["label"] else [],
        ("secrets",),
        keep=labels_match,
    ),
    "secrets-np": Suite(
        DATA / "secrets_np_eval.jsonl", lambda r: ["secrets"] if r["label"] else [], ("secrets",)
    ),
    "pii": Suite(
        DATA / "pii_eval.jsonl",
        lambda r: sorted({PII_TYPES[s["type"]] for s in r["spans"] if s["type"] in PII_TYPES}),
        tuple(sorted(set(PII_TYPES.values()))),
        spans=True,
    ),
    "heldout": Suite(HELDOUT, lambda r: list(r["labels"])),
    "heldout-v3": Suite(
        HELDOUT.with_name("heldout_v3.jsonl"), lambda r: list(r["labels"]), ("prompt_injection",)
    ),
    "heldout-v4": Suite(HELDOUT.with_name("heldout_v4.jsonl"), lambda r: list(r["labels"])),
    "heldout-v5": Suite(HELDOUT.with_name("heldout_v5.jsonl"), lambda r: list(r["labels"])),
    "heldout-v6": Suite(HELDOUT.with_name("heldout_v6.jsonl"), lambda r: list(r["labels"])),
    "heldout-v7": Suite(HELDOUT.with_name("heldout_v7.jsonl"), lambda r: list(r["labels"])),
    "heldout-v8": Suite(HELDOUT.with_name("heldout_v8.jsonl"), lambda r: list(r["labels"])),
    "heldout-v9": Suite(HELDOUT.with_name("heldout_v9.jsonl"), lambda r: list(r["labels"])),
    "heldout-v10": Suite(HELDOUT.with_name("heldout_v10.jsonl"), lambda r: list(r["labels"])),
    "heldout-v11": Suite(HELDOUT.with_name("heldout_v11.jsonl"), lambda r: list(r["labels"])),
    "heldout-v12": Suite(HELDOUT.with_name("heldout_v12.jsonl"), lambda r: list(r["labels"])),
    "heldout-v13": Suite(HELDOUT.with_name("heldout_v13.jsonl"), lambda r: list(r["labels"])),
    "heldout-v14": Suite(HELDOUT.with_name("heldout_v14.jsonl"), lambda r: list(r["labels"])),
    "heldout-v15": Suite(HELDOUT.with_name("heldout_v15.jsonl"), lambda r: list(r["labels"])),
    "heldout-v16": Suite(HELDOUT.with_name("heldout_v16.jsonl"), lambda r: list(r["labels"])),
    "heldout-v17": Suite(HELDOUT.with_name("heldout_v17.jsonl"), lambda r: list(r["labels"])),
    "heldout-v18": Suite(HELDOUT.with_name("heldout_v18.jsonl"), lambda r: list(r["labels"])),
    "heldout-v19": Suite(HELDOUT.with_name("heldout_v19.jsonl"), lambda r: list(r["labels"])),
    "heldout-v20": Suite(HELDOUT.with_name("heldout_v20.jsonl"), lambda r: list(r["labels"])),
    "heldout-v21": Suite(HELDOUT.with_name("heldout_v21.jsonl"), lambda r: list(r["labels"])),
    "heldout-v22": Suite(HELDOUT.with_name("heldout_v22.jsonl"), lambda r: list(r["labels"])),
    "heldout-v23": Suite(HELDOUT.with_name("heldout_v23.jsonl"), lambda r: list(r["labels"])),
    "heldout-v24": Suite(HELDOUT.with_name("heldout_v24.jsonl"), lambda r: list(r["labels"])),
    "heldout-v25": Suite(HELDOUT.with_name("heldout_v25.jsonl"), lambda r: list(r["labels"])),
    "heldout-v26": Suite(HELDOUT.with_name("heldout_v26.jsonl"), lambda r: list(r["labels"])),
    "heldout-v27": Suite(HELDOUT.with_name("heldout_v27.jsonl"), lambda r: list(r["labels"])),
    "heldout-v28": Suite(HELDOUT.with_name("heldout_v28.jsonl"), lambda r: list(r["labels"])),
    "heldout-v29": Suite(HELDOUT.with_name("heldout_v29.jsonl"), lambda r: list(r["labels"])),
    "heldout-v30": Suite(HELDOUT.with_name("heldout_v30.jsonl"), lambda r: list(r["labels"])),
    "heldout-v31": Suite(HELDOUT.with_name("heldout_v31.jsonl"), lambda r: list(r["labels"])),
    "heldout-v32": Suite(HELDOUT.with_name("heldout_v32.jsonl"), lambda r: list(r["labels"])),
    "heldout-v33": Suite(HELDOUT.with_name("heldout_v33.jsonl"), lambda r: list(r["labels"])),
    "heldout-v34": Suite(HELDOUT.with_name("heldout_v34.jsonl"), lambda r: list(r["labels"])),
    "heldout-v35": Suite(HELDOUT.with_name("heldout_v35.jsonl"), lambda r: list(r["labels"])),
    "heldout-v36": Suite(HELDOUT.with_name("heldout_v36.jsonl"), lambda r: list(r["labels"])),
    "heldout-v37": Suite(HELDOUT.with_name("heldout_v37.jsonl"), lambda r: list(r["labels"])),
    "heldout-v38": Suite(HELDOUT.with_name("heldout_v38.jsonl"), lambda r: list(r["labels"])),
    "heldout-v39": Suite(HELDOUT.with_name("heldout_v39.jsonl"), lambda r: list(r["labels"])),
    "heldout-v40": Suite(HELDOUT.with_name("heldout_v40.jsonl"), lambda r: list(r["labels"])),
    "heldout-v41": Suite(HELDOUT.with_name("heldout_v41.jsonl"), lambda r: list(r["labels"])),
    "heldout-v42": Suite(HELDOUT.with_name("heldout_v42.jsonl"), lambda r: list(r["labels"])),
    "heldout-v43": Suite(HELDOUT.with_name("heldout_v43.jsonl"), lambda r: list(r["labels"])),
    "heldout-v44": Suite(HELDOUT.with_name("heldout_v44.jsonl"), lambda r: list(r["labels"])),
    "heldout-v45": Suite(HELDOUT.with_name("heldout_v45.jsonl"), lambda r: list(r["labels"])),
    "heldout-v46": Suite(HELDOUT.with_name("heldout_v46.jsonl"), lambda r: list(r["labels"])),
    "heldout-v47": Suite(HELDOUT.with_name("heldout_v47.jsonl"), lambda r: list(r["labels"])),
    "heldout-v48": Suite(HELDOUT.with_name("heldout_v48.jsonl"), lambda r: list(r["labels"])),
    "heldout-v49": Suite(HELDOUT.with_name("heldout_v49.jsonl"), lambda r: list(r["labels"])),
    "heldout-v50": Suite(HELDOUT.with_name("heldout_v50.jsonl"), lambda r: list(r["labels"])),
    "heldout-v51": Suite(HELDOUT.with_name("heldout_v51.jsonl"), lambda r: list(r["labels"])),
    "heldout-v52": Suite(HELDOUT.with_name("heldout_v52.jsonl"), lambda r: list(r["labels"])),
    "heldout-v53": Suite(HELDOUT.with_name("heldout_v53.jsonl"), lambda r: list(r["labels"])),
    "heldout-short": Suite(
        HELDOUT.with_name("heldout_short.jsonl"), lambda r: list(r["labels"]), ("prompt_injection",)
    ),
}


def findings(policy: Policy, text: str) -> list[Finding]:
    """Every category's findings, found as the guard finds them (one Group: combined patterns,
    gitleaks' keyword prefilter), whatever the policy's actions."""
    return reported(_every_detector(policy).find(Views(text)))


def _every_detector(policy: Policy) -> Group:
    group: Group | None = policy.__dict__.get("_suite_group")
    if group is None:
        by_view: dict[str, list[RegexDetector]] = {v: [] for v in VIEWS}
        models: list[LearnedDetector] = []
        for det in (d for c in policy.categories.values() for d in c.detectors):
            add_detector(by_view, models, det)
        group = policy.__dict__["_suite_group"] = Group(by_view, models=models)
    return group


def run_suite(policy: Policy, name: str, limit: int | None = None) -> dict[str, Any]:
    suite = SUITES[name]
    records = [json.loads(x) for x in suite.path.read_text().split("\n") if x.strip()]
    records = [r for r in records if suite.keep is None or suite.keep(r)]
    records = records[:limit] if limit else records
    counts: Counter[tuple[str, str, str]] = Counter()  # (category, detector or *, tp/fp/fn)
    times = []
    for r in records:
        t0 = time.perf_counter()
        found = findings(policy, r["text"])
        times.append(time.perf_counter() - t0)
        if suite.categories:
            found = [f for f in found if f.category in suite.categories]
        truth = suite.labels(r)
        if suite.spans:
            _score_spans(r, found, counts)
        else:
            _score_record(truth, found, counts)
    cats = sorted(
        set(suite.categories)
        | {c for c, _, _ in counts}
        | {c for r in records for c in suite.labels(r)}
    )
    rows = [_row(c, d, counts) for c in cats for d in ["*", *_detectors(counts, c)]]
    return {
        "suite": name,
        "records": len(records),
        "rows": rows,
        "latency_ms": {
            "p50": round(1000 * statistics.median(times), 3),
            "p99": round(1000 * sorted(times)[int(0.99 * (len(times) - 1))], 3),
        },
        "chars_p50": statistics.median(len(r["text"]) for r in records),
    }


def _score_record(truth: list[str], found: list[Finding], counts: Counter[Any]) -> None:
    got = {f.category for f in found}
    for c in set(truth) | got:
        k = "tp" if c in truth and c in got else "fn" if c in truth else "fp"
        counts[c, "*", k] += 1
    for d in {(f.category, f.detector) for f in found}:
        counts[d[0], d[1], "tp" if d[0] in truth else "fp"] += 1


def _score_spans(r: dict[str, Any], found: list[Finding], counts: Counter[Any]) -> None:
    truth = [(PII_TYPES[s["type"]], s["start"], s["end"]) for s in r["spans"]
             if s["type"] in PII_TYPES]  # fmt: skip
    for c, s, e in truth:
        hit = [f for f in found if f.category == c and f.start < e and s < f.end]
        counts[c, "*", "tp" if hit else "fn"] += 1
        for d in {f.detector for f in hit}:
            counts[c, d, "tp"] += 1
    for f in found:
        if not any(c == f.category and f.start < e and s < f.end for c, s, e in truth):
            counts[f.category, "*", "fp"] += 1
            counts[f.category, f.detector, "fp"] += 1


def _detectors(counts: Counter[tuple[str, str, str]], cat: str) -> list[str]:
    return sorted({d for c, d, _ in counts if c == cat and d != "*"})


def _row(cat: str, det: str, counts: Counter[tuple[str, str, str]]) -> dict[str, Any]:
    tp, fp, fn = (counts[cat, det, k] for k in ("tp", "fp", "fn"))
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if det == "*" and tp + fn else float("nan")
    return {
        "category": cat, "detector": det, "tp": tp, "fp": fp, "fn": fn if det == "*" else None,
        "precision": round(p, 3), "recall": round(r, 3), "f1": round(_f(p, r, 1), 3),
        "f2": round(_f(p, r, 2), 3),
    }  # fmt: skip


def _f(p: float, r: float, beta: float) -> float:
    if p != p or r != r or p + r == 0:  # NaN: not defined for this row
        return float("nan")
    return (1 + beta**2) * p * r / (beta**2 * p + r)


def render(result: dict[str, Any]) -> str:
    lat = result["latency_ms"]
    lines = [
        f"suite {result['suite']}: {result['records']} texts (median {result['chars_p50']:.0f} "
        f"chars), scan latency p50 {lat['p50']} ms, p99 {lat['p99']} ms",
        "| category | detector | precision | recall | F1 | F2 | TP | FP | FN |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        fn = "" if r["fn"] is None else r["fn"]
        name = "**all**" if r["detector"] == "*" else r["detector"]
        lines.append(
            f"| {r['category']} | {name} | {_fmt(r['precision'])} | {_fmt(r['recall'])} | "
            f"{_fmt(r['f1'])} | {_fmt(r['f2'])} | {r['tp']} | {r['fp']} | {fn} |"
        )
    return "\n".join(lines)


def _fmt(x: float) -> str:
    return "-" if x != x else f"{x:.3f}"


def summary(results: list[dict[str, Any]]) -> str:
    """The README's table: one row per suite and category (all detectors together), with the
    suite's scan latency."""
    lines = [
        "| suite (texts) | category | precision | recall | F1 | F2 | scan p50 / p99 (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for res in results:
        first = True
        for r in res["rows"]:
            if r["detector"] != "*" or r["tp"] + (r["fn"] or 0) == 0:
                continue  # a category with no positives in this suite has no recall
            name = f"{res['suite']} ({res['records']:,})" if first else ""
            lat = f"{res['latency_ms']['p50']} / {res['latency_ms']['p99']}" if first else ""
            lines.append(
                f"| {name} | {r['category']} | {_fmt(r['precision'])} | {_fmt(r['recall'])} | "
                f"{_fmt(r['f1'])} | {_fmt(r['f2'])} | {lat} |"
            )
            first = False
    return "\n".join(lines)
