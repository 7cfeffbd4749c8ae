from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from serve.app import build_app
from serve.metrics import ServerMetrics
from serve.settings import ServerSettings
from tests.fakes import FakeEngine

Factory = Callable[..., tuple[FastAPI, httpx.AsyncClient]]


@pytest.fixture
async def make_client() -> AsyncIterator[Factory]:
    clients: list[httpx.AsyncClient] = []

    def make(
        engine: FakeEngine | None = None, **settings: Any
    ) -> tuple[FastAPI, httpx.AsyncClient]:
        app = build_app(
            ServerSettings(**settings),
            engine or FakeEngine(max_model_len=256),
            ServerMetrics(CollectorRegistry()),
        )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=10
        )
        clients.append(client)
        return app, client

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
async def client(make_client: Factory) -> httpx.AsyncClient:
    return make_client(FakeEngine(max_model_len=64))[1]
