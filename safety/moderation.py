"""OpenAI-style moderation over the policy's detectors: `POST /v1/moderations`.

Every category of the policy is reported for every input, whatever its serving action, so the
endpoint answers "what is in this text" while the serving path decides what to do about it.
Pattern detectors are certain about what they match, so scores are 1.0 or 0.0.
"""

from __future__ import annotations

from typing import Any

from safety.detectors import reported
from safety.policy import Policy
from safety.views import Views


def categories_found(policy: Policy, text: str) -> list[str]:
    """Categories with at least one finding (after overlap resolution); classifier categories
    need the guard model and are not reported here."""
    views = Views(text)
    found = [f for cat in policy.categories.values() for d in cat.detectors for f in d.find(views)]
    return sorted({f.category for f in reported(found)})


def moderate(policy: Policy, text: str) -> dict[str, Any]:
    """One OpenAI moderation result."""
    found = categories_found(policy, text)
    hits = {name: name in found for name, cat in policy.categories.items() if cat.detectors}
    return {
        "flagged": any(hits.values()),
        "categories": hits,
        "category_scores": {k: 1.0 if v else 0.0 for k, v in hits.items()},
    }
