"""The optional guard-model hook: a Llama Guard model behind any OpenAI-compatible server.

Llama Guard's chat template turns the conversation into its moderation prompt; it answers
"safe", or "unsafe" and a line of hazard codes ("S1,S10"). The codes map to the policy's
classifier categories. A failure or timeout is answered by the configured fallback: fail open
(allow) or closed (block as 'classifier_unavailable').
"""

from __future__ import annotations

import logging

import httpx

from safety.policy import ClassifierConfig

log = logging.getLogger("llm-deploy.safety")
UNAVAILABLE = "classifier_unavailable"


def parse_verdict(text: str) -> set[str] | None:
    """Hazard codes from a Llama Guard answer; None when the answer is not one."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    if lines[0].lower() == "safe":
        return set()
    if lines[0].lower() == "unsafe":
        codes = {c.strip().upper() for c in (lines[1] if len(lines) > 1 else "").split(",")}
        return {c for c in codes if c} or {"UNSPECIFIED"}
    return None


class GuardModel:
    """Asks the guard model about a conversation."""

    def __init__(
        self, cfg: ClassifierConfig, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        assert cfg.url
        self.cfg = cfg
        self.http = httpx.AsyncClient(
            base_url=cfg.url.rstrip("/"), timeout=cfg.timeout_s, transport=transport
        )

    async def classify(self, user: str, assistant: str | None = None) -> set[str] | None:
        """Hazard codes (empty set = safe), or None when the guard failed or timed out."""
        messages = [{"role": "user", "content": user}]
        if assistant is not None:
            messages.append({"role": "assistant", "content": assistant})
        try:
            r = await self.http.post(
                "/chat/completions",
                json={
                    "model": self.cfg.model,
                    "messages": messages,
                    "max_tokens": 16,
                    "temperature": 0,
                },
            )
            r.raise_for_status()
            verdict = parse_verdict(r.json()["choices"][0]["message"]["content"] or "")
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            log.warning("guard model failed: %s", type(exc).__name__)
            return None
        if verdict is None:
            log.warning("guard model gave an answer that is not a Llama Guard verdict")
        return verdict
