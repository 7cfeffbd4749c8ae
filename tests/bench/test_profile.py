"""The frontend profile's bookkeeping: samples go to the owner of the innermost frame."""

from __future__ import annotations

from benchmarks.profile_frontend import owner, parse_raw

HEAD = 'process 1:"python -m serve";thread (0x1);run (asyncio/runners.py:190);'
RAW = "\n".join(
    [
        HEAD + "handle (serve/service.py:88);scan (safety/guard.py:40) 7",
        HEAD + "process_outputs (vllm/v1/engine/output_processor.py:400) 5",
        HEAD + "send (uvicorn/protocols/http/h11_impl.py:500);<built-in> 2",
        HEAD + "_run_once (asyncio/base_events.py:1884) 1",
        'process 1:"python -m serve";thread (0x1);dumps (site-packages/something/x.py:3) 1',
        "garbage line",
    ]
)


def test_innermost_frame_decides() -> None:
    assert owner("a (serve/app.py:1);b (vllm/x.py:2)") == "vllm"
    assert owner("a (vllm/x.py:2);b (serve/app.py:1)") == "ours"
    assert owner("a (/usr/lib/python3.11/site-packages/pydantic/main.py:9)") == "pydantic"
    assert owner("thread (0x1)") == "other"


def test_parse_raw_counts_samples_by_owner() -> None:
    got = parse_raw(RAW)
    assert got == {"ours": 7, "vllm": 5, "http": 2, "asyncio": 1, "other": 1}
