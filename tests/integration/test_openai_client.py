"""A round trip with the official openai client."""

from __future__ import annotations

import openai
import pytest

from tests.integration.conftest import MODEL_NAME

pytestmark = pytest.mark.integration


def test_openai_client_round_trip(base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused")
    assert [m.id for m in client.models.list()] == [MODEL_NAME]
    c = client.completions.create(model=MODEL_NAME, prompt="import", max_tokens=5, temperature=0)
    assert c.usage is not None and c.usage.completion_tokens >= 1
    chat = client.chat.completions.create(
        model=MODEL_NAME, messages=[{"role": "user", "content": "Hi"}], max_tokens=5
    )
    assert chat.choices[0].message.role == "assistant"
    stream = client.chat.completions.create(
        model=MODEL_NAME, messages=[{"role": "user", "content": "Hi"}], max_tokens=5, stream=True
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert isinstance(text, str)
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="missing", prompt="x")
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=MODEL_NAME, prompt="x", temperature=-1)
