"""HTTP behaviour of /v1/completions and /v1/chat/completions over the fake engine."""

from __future__ import annotations

import json

import httpx

from tests.fakes import FakeEngine


def events(body: str) -> list[str]:
    return [line[len("data: ") :] for line in body.split("\n\n") if line.startswith("data: ")]


async def test_completion_shape_and_usage(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/completions", json={"prompt": "abc", "max_tokens": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "hello"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


async def test_prompt_forms_and_n(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/completions", json={"prompt": ["ab", "cde"], "max_tokens": 2, "n": 2}
    )
    body = r.json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert body["usage"]["prompt_tokens"] == 5
    assert body["usage"]["completion_tokens"] == 8
    r = await client.post("/v1/completions", json={"prompt": [100, 101], "max_tokens": 1})
    assert r.status_code == 200
    r = await client.post("/v1/completions", json={"prompt": [[100], [101, 102]], "max_tokens": 1})
    assert len(r.json()["choices"]) == 2


async def test_echo_and_stop(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/completions", json={"prompt": "say ", "max_tokens": 10, "echo": True, "stop": "o w"}
    )
    c = r.json()["choices"][0]
    assert c["text"] == "say hell"
    assert c["finish_reason"] == "stop"


async def test_user_value_beats_server_default(make_client) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine()
    engine.default_sampling = {"temperature": 0.3, "top_p": 0.9}
    _, client = make_client(engine)
    await client.post("/v1/completions", json={"prompt": "a", "temperature": 0.8, "max_tokens": 1})
    params = engine.seen[-1][1]
    assert params.temperature == 0.8 and params.top_p == 0.9


async def test_stream_framing_with_usage(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/completions",
        json={
            "prompt": "x",
            "max_tokens": 3,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    data = events(r.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks[:-1]) == "hel"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3


async def test_chat_stream_role_first_then_content(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "stream": True},
    )
    assert r.status_code == 200, r.text
    data = events(r.text)
    first = json.loads(data[0])
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"]["role"] == "assistant"
    content = "".join(json.loads(d)["choices"][0]["delta"].get("content", "") for d in data[1:-1])
    assert content == "hell"
    assert data[-1] == "[DONE]"


async def test_chat_renders_default_template(make_client) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(max_model_len=1000)
    _, client = make_client(engine)
    r = await client.post(
        "/v1/chat/completions",
        json={
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            ],
            "max_tokens": 2,
            "logprobs": True,
            "top_logprobs": 1,
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "he"}
    assert len(body["choices"][0]["logprobs"]["content"]) == 2
    rendered = engine.tokenizer.decode(engine.seen[-1][0])
    assert rendered.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


async def test_error_after_stream_start_is_event_then_done(make_client) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine()
    engine.fail_after = 2
    _, client = make_client(engine)
    r = await client.post("/v1/completions", json={"prompt": "x", "max_tokens": 8, "stream": True})
    assert r.status_code == 200
    data = events(r.text)
    assert data[-1] == "[DONE]"
    err = json.loads(data[-2])["error"]
    assert err["type"] == "server_error" and err["code"] == "engine_error"
    assert not engine.running


async def test_timeout_aborts(make_client) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(delay=0.05)
    _, client = make_client(engine, request_timeout=0.2)
    r = await client.post("/v1/completions", json={"prompt": "x", "max_tokens": 50})
    assert r.status_code == 408
    assert r.json()["error"]["code"] == "request_timeout"
    r = await client.post("/v1/completions", json={"prompt": "x", "max_tokens": 50, "stream": True})
    data = events(r.text)
    assert json.loads(data[-2])["error"]["code"] == "request_timeout" and data[-1] == "[DONE]"
    assert not engine.running


async def test_echo_of_token_prompt_returns_its_text(client: httpx.AsyncClient) -> None:
    ids = [b + 3 for b in b"hi "]  # the fake tokenizer: byte b is token b + 3
    r = await client.post("/v1/completions", json={"prompt": ids, "max_tokens": 2, "echo": True})
    assert r.json()["choices"][0]["text"] == "hi he"
    r = await client.post("/v1/completions", json={"prompt": ids, "max_tokens": 2})
    assert r.json()["choices"][0]["text"] == "he"
