"""llm-serve's app over the fake engine, as a process of its own: the replicas of the tests that
need several server processes (a shared Redis store) without loading a model in each.

    python -m tests.serve.fake_replica --port N [llm-serve's own flags]
"""

from __future__ import annotations

import argparse

import uvicorn
from prometheus_client import CollectorRegistry

from serve import logs
from serve.app import build_app
from serve.metrics import ServerMetrics
from serve.settings import add_arguments, from_namespace
from tests.fakes import FakeEngine


def main() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    settings = from_namespace(parser.parse_args())
    logs.configure(settings.log_level)
    app = build_app(settings, FakeEngine(max_model_len=256), ServerMetrics(CollectorRegistry()))
    uvicorn.run(app, host="127.0.0.1", port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
