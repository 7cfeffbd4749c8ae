"""OpenAI-style moderation over the policy's detectors: `POST /v1/moderations`.

Every category of the policy is reported for every input, whatever its serving action, so the
endpoint answers "what is in this text" while the serving path decides what to do about it.
Pattern detectors are certain about what they match, so scores are 1.0 or 0.0.
"""

from __future__ import annotations

from typing import Any

from safety.detectors import Views
from safety.policy import Policy


def moderate(policy: Policy, text: str) -> dict[str, Any]:
    """One OpenAI moderation result."""
    views = Views(text)
    hits: dict[str, bool] = {}
    for name, cat in policy.categories.items():
        if not cat.detectors:
            continue  # classifier categories need the guard model
        hits[name] = any(det.find(views) for det in cat.detectors)
    return {
        "flagged": any(hits.values()),
        "categories": hits,
        "category_scores": {k: 1.0 if v else 0.0 for k, v in hits.items()},
    }
