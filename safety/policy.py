"""The safety policy: categories, their detectors, and an action per direction.

Loaded from YAML (`safety/default_policy.yaml` ships as the default). Every mistake is refused
with the file, line and reason, so a bad reload leaves the running policy in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex
import yaml

from safety.detectors import (
    BUILTIN_NAMES,
    Detector,
    LearnedDetector,
    RegexDetector,
    builtin,
    term_detector,
)

ACTIONS = ("block", "redact", "flag", "allow")
DEFAULT_POLICY = Path(__file__).with_name("default_policy.yaml")
# MLCommons AI Safety hazard taxonomy codes, as Llama Guard 3/4 answers them.
HAZARDS = {
    "S1": "violent_crimes", "S2": "non_violent_crimes", "S3": "sex_related_crimes",
    "S4": "child_sexual_exploitation", "S5": "defamation", "S6": "specialized_advice",
    "S7": "privacy", "S8": "intellectual_property", "S9": "indiscriminate_weapons",
    "S10": "hate", "S11": "suicide_self_harm", "S12": "sexual_content", "S13": "elections",
    "S14": "code_interpreter_abuse",
}  # fmt: skip


class PolicyError(ValueError):
    """A policy file that cannot be used: says where and why."""


@dataclass
class Category:
    name: str
    input: str = "allow"
    output: str = "allow"
    detectors: list[Detector] = field(default_factory=list)
    classifier_code: str | None = None  # a hazard code (S1..S14) answered by the guard model

    def action(self, direction: str) -> str:
        return self.input if direction == "input" else self.output


@dataclass
class ClassifierConfig:
    url: str | None = None
    """OpenAI-compatible base URL of a guard model (Llama Guard prompt format)."""
    model: str = "llama-guard"
    timeout_s: float = 2.0
    on_failure: str = "open"
    """open: allow the text when the guard fails or times out; closed: block it."""
    directions: tuple[str, ...] = ("input",)


@dataclass
class Policy:
    categories: dict[str, Category]
    hold_back_chars: int = 1024
    """The most output characters the stream guard may hold back while a block/redact span
    could still be forming; a longer one ends the choice with finish_reason content_filter."""
    classifier: ClassifierConfig | None = None
    source: str = ""

    def active(self, direction: str) -> list[Category]:
        return [c for c in self.categories.values() if c.action(direction) != "allow"]


def _line(node: yaml.Node | None, path: list[Any]) -> int:
    """1-based line of the YAML node at `path` (the deepest one found)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in path:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def load_policy(path: Path) -> Policy:
    """Parse and check a policy file; raise PolicyError('FILE:LINE: reason')."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise PolicyError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None

    def fail(where: list[Any], reason: str) -> PolicyError:
        return PolicyError(f"{path}:{_line(root, where)}: {reason}")

    if not isinstance(data, dict):
        raise fail([], "the policy must be a mapping with 'categories'")
    unknown = set(data) - {"version", "hold_back_chars", "categories", "classifier"}
    if unknown:
        k = sorted(unknown)[0]
        raise fail([k], f"unknown key {k!r}")
    if data.get("version", 1) != 1:
        raise fail(["version"], "only version 1 is supported")
    hold = data.get("hold_back_chars", 1024)
    if not isinstance(hold, int) or not 16 <= hold <= 4096:
        raise fail(["hold_back_chars"], "hold_back_chars must be an integer in [16, 4096]")
    cats_raw = data.get("categories")
    if not isinstance(cats_raw, dict) or not cats_raw:
        raise fail(["categories"], "'categories' must be a non-empty mapping")
    categories = {}
    for name, spec in cats_raw.items():
        at = ["categories", name]
        if not isinstance(name, str) or not name.replace("_", "").isalnum():
            raise fail(at, f"category name {name!r} must be letters, digits and underscores")
        if not isinstance(spec, dict):
            raise fail(at, f"category {name!r} must be a mapping")
        bad = set(spec) - {
            "input", "output", "detectors", "terms", "regex", "word_boundary", "classifier",
            "description",
        }  # fmt: skip
        if bad:
            k = sorted(bad)[0]
            raise fail([*at, k], f"unknown key {k!r} in category {name!r}")
        cat = Category(name)
        for direction in ("input", "output"):
            act = spec.get(direction, "allow")
            if act not in ACTIONS:
                raise fail(
                    [*at, direction],
                    f"{direction} action {act!r}: choose from {', '.join(ACTIONS)}",
                )
            setattr(cat, direction, act)
        for d in spec.get("detectors") or []:
            if d not in BUILTIN_NAMES:
                raise fail([*at, "detectors"], f"unknown detector {d!r}")
            for det in builtin(d):
                det.category = name
                cat.detectors.append(det)
            if cat.output in ("block", "redact") and any(
                isinstance(det, LearnedDetector) for det in cat.detectors
            ):
                raise fail(
                    [*at, "output"],
                    f"the learned detector scores whole texts and cannot {cat.output} streamed "
                    "output: use flag, or the rule detectors alone (prompt_injection.rules)",
                )
        terms = spec.get("terms") or []
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise fail([*at, "terms"], "'terms' must be a list of strings")
        if terms:
            wb = spec.get("word_boundary", True)
            if not isinstance(wb, bool):
                raise fail([*at, "word_boundary"], "'word_boundary' must be true or false")
            cat.detectors.append(term_detector(f"{name}.terms", name, terms, wb))
        patterns = spec.get("regex") or []
        if not isinstance(patterns, list):
            raise fail([*at, "regex"], "'regex' must be a list of patterns")
        for i, p in enumerate(patterns):
            try:
                cat.detectors.append(
                    RegexDetector(f"{name}.regex{i}", name, str(p), "[REDACTED]", casefold=True)
                )
            except regex.error as exc:
                raise fail([*at, "regex", i], f"bad regular expression: {exc}") from None
        code = spec.get("classifier")
        if code is not None:
            if code not in HAZARDS:
                raise fail([*at, "classifier"], f"classifier code {code!r}: use S1..S14")
            cat.classifier_code = code
            if "redact" in (cat.input, cat.output):
                raise fail(at, "classifier categories have no span to redact: use block or flag")
        if not cat.detectors and cat.classifier_code is None:
            raise fail(at, f"category {name!r} has no detectors, terms, regex or classifier")
        categories[name] = cat
    classifier = None
    if data.get("classifier") is not None:
        c = data["classifier"]
        at = ["classifier"]
        if not isinstance(c, dict):
            raise fail(at, "'classifier' must be a mapping")
        bad = set(c) - {"url", "model", "timeout_s", "on_failure", "directions"}
        if bad:
            raise fail([*at, sorted(bad)[0]], f"unknown key {sorted(bad)[0]!r} in classifier")
        if c.get("on_failure", "open") not in ("open", "closed"):
            raise fail([*at, "on_failure"], "on_failure must be open or closed")
        dirs = tuple(c.get("directions", ["input"]))
        if not set(dirs) <= {"input", "output"}:
            raise fail([*at, "directions"], "directions must be input and/or output")
        classifier = ClassifierConfig(
            url=c.get("url"),
            model=str(c.get("model", "llama-guard")),
            timeout_s=float(c.get("timeout_s", 2.0)),
            on_failure=c.get("on_failure", "open"),
            directions=dirs,
        )
    # classifier categories act only through a guard model (see Guard.classify); the pattern
    # scan never sees them, since they have no detectors
    return Policy(categories, hold, classifier, str(path))
