"""The safety policy: categories, their detectors, and an action per direction.

Loaded from YAML (`safety/default_policy.yaml` ships as the default). Every mistake is refused
with the file, line and reason, so a bad reload leaves the running policy in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import regex
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from llm_deploy import yamlfile
from safety.detectors import (
    BUILTIN_NAMES,
    Detector,
    RegexDetector,
    builtin,
    term_detector,
)

ACTIONS = ("block", "redact", "flag", "allow")
LEARNED = ("prompt_injection", "prompt_injection.learned")  # names that include LearnedDetector
DEFAULT_POLICY = Path(__file__).with_name("default_policy.yaml")
# MLCommons AI Safety hazard taxonomy codes, as Llama Guard 3/4 answers them.
HAZARDS = {
    "S1": "violent_crimes", "S2": "non_violent_crimes", "S3": "sex_related_crimes",
    "S4": "child_sexual_exploitation", "S5": "defamation", "S6": "specialized_advice",
    "S7": "privacy", "S8": "intellectual_property", "S9": "indiscriminate_weapons",
    "S10": "hate", "S11": "suicide_self_harm", "S12": "sexual_content", "S13": "elections",
    "S14": "code_interpreter_abuse",
}  # fmt: skip


class PolicyError(yamlfile.FileError):
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


Action = Literal["block", "redact", "flag", "allow"]
CategoryName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+$")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategorySpec(_Spec):
    """One category as the file writes it."""

    description: str = ""
    input: Action = "allow"
    output: Action = "allow"
    detectors: list[str] | None = None
    terms: list[StrictStr] | None = None
    word_boundary: StrictBool = True
    regex: list[str] | None = None
    classifier: str | None = None

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, names: list[str] | None) -> list[str] | None:
        for d in names or []:
            if d not in BUILTIN_NAMES:
                raise ValueError(f"unknown detector {d!r}")
        return names

    @field_validator("regex")
    @classmethod
    def _compiles(cls, patterns: list[str] | None) -> list[str] | None:
        for p in patterns or []:
            try:
                regex.compile(p)
            except regex.error as exc:
                raise ValueError(f"bad regular expression: {exc}") from None
        return patterns

    @field_validator("classifier")
    @classmethod
    def _hazard_code(cls, code: str | None) -> str | None:
        if code is not None and code not in HAZARDS:
            raise ValueError(f"classifier code {code!r}: use S1..S14")
        return code

    @model_validator(mode="after")
    def _coherent(self) -> CategorySpec:
        if self.classifier and "redact" in (self.input, self.output):
            raise ValueError("classifier categories have no span to redact: use block or flag")
        if not (self.detectors or self.terms or self.regex or self.classifier):
            raise ValueError("the category has no detectors, terms, regex or classifier")
        learned = any(n in LEARNED for n in self.detectors or [])
        if learned and self.output in ("block", "redact"):
            raise ValueError(
                f"the learned detector scores whole texts and cannot {self.output} streamed "
                "output: use flag, or the rule detectors alone (prompt_injection.rules)"
            )
        return self


class ClassifierSpec(_Spec):
    url: str | None = None
    model: str = "llama-guard"
    timeout_s: float = 2.0
    on_failure: Literal["open", "closed"] = "open"
    directions: tuple[Literal["input", "output"], ...] = ("input",)


class PolicySpec(_Spec):
    """The whole file: validated by pydantic, extra keys refused at every level."""

    version: Literal[1] = 1
    hold_back_chars: StrictInt = Field(1024, ge=16, le=4096)
    categories: dict[CategoryName, CategorySpec] = Field(min_length=1)
    classifier: ClassifierSpec | None = None


def load_policy(path: Path) -> Policy:
    """Parse and check a policy file; raise PolicyError('FILE:LINE: reason')."""
    spec = yamlfile.load(
        path, PolicySpec, PolicyError, reason=_reason, locate=_locate,
        not_mapping="the policy must be a mapping with 'categories'",
    )  # fmt: skip
    return _build(spec, str(path))


def _locate(loc: list[Any]) -> list[Any]:
    """A whole category's error points at its name."""
    return [*loc, "[key]"] if len(loc) == 2 and loc[0] == "categories" else loc


def _reason(err: Any) -> str:
    """One pydantic error in the words the file's author needs."""
    loc, kind = [str(x) for x in err["loc"]], err["type"]
    where = f" in category {loc[1]!r}" if len(loc) > 2 and loc[0] == "categories" else ""
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}{where}"
    if kind == "literal_error" and loc[-1] in ("input", "output"):
        return f"{loc[-1]} action {err['input']!r}: choose from {', '.join(ACTIONS)}"
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if loc[:1] == ["categories"] and loc[-1] == "[key]":
        return f"category name {loc[1]!r} must be letters, digits and underscores"
    if loc == ["categories"]:
        return "'categories' must be a non-empty mapping"
    dotted = ".".join(x for x in loc if x != "[key]") or "policy"
    if kind in ("model_type", "dict_type"):
        return f"{dotted} must be a mapping"
    return f"{dotted}: {err['msg']}"


def _build(spec: PolicySpec, source: str) -> Policy:
    categories = {}
    for name, c in spec.categories.items():
        cat = Category(name, c.input, c.output, classifier_code=c.classifier)
        for d in c.detectors or []:
            for det in builtin(d):
                det.category = name
                cat.detectors.append(det)
        if c.terms:
            cat.detectors.append(term_detector(f"{name}.terms", name, c.terms, c.word_boundary))
        for i, p in enumerate(c.regex or []):
            cat.detectors.append(
                RegexDetector(f"{name}.regex{i}", name, p, "[REDACTED]", casefold=True)
            )
        categories[name] = cat
    classifier = None
    if spec.classifier is not None:
        classifier = ClassifierConfig(**spec.classifier.model_dump())
    # classifier categories act only through a guard model (see Guard.classify); the pattern
    # scan never sees them, since they have no detectors
    return Policy(categories, spec.hold_back_chars, classifier, source)
