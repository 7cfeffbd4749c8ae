"""What the routes reach: the shared serving core and one service per endpoint.

    route -> CompletionService / ChatService (prepare, run | stream) -> engine.generate

Safety runs inside the endpoint services (input checks while preparing, the output guard on every
engine step), so no route can skip it.
"""

from __future__ import annotations

from safety.guard import Guard
from serve.chat import ChatService
from serve.completions import CompletionService
from serve.core import ServingCore
from serve.metrics import ServerMetrics
from serve.quota import Quotas
from serve.settings import ServerSettings
from serve.types import EngineClient


class Service:
    def __init__(
        self,
        engine: EngineClient,
        settings: ServerSettings,
        metrics: ServerMetrics,
        guard: Guard | None = None,
        quotas: Quotas | None = None,
    ) -> None:
        self.core = ServingCore(engine, settings, metrics, guard, quotas)
        self.completions = CompletionService(self.core)
        self.chat = ChatService(self.core)
