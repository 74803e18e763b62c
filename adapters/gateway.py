"""The FastAPI gateway: ``create_app(settings)`` builds it; nothing happens at import time.

Routes: ``POST /api/chat`` (Rasa REST shape), ``GET /api/health``, ``GET /api/search`` and
``POST /api/faq/answer`` (retrieval, also used by the Rasa action server), the web widget
(``GET /widget.js``, ``POST /api/chat/stream``, ``GET /demo``: ``adapters.widget``), the clerk
web app for minutes (``/clerk/``, ``/api/clerk/``: ``adapters.clerk``), OpenAPI at ``/docs``.
Models are loaded in the lifespan and live on ``app.state``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapters import api, clerk, retention, security, widget
from adapters.chat import ChatService
from adapters.embed_batch import install_query_batcher, remove_query_batcher
from adapters.embed_cache import install_query_cache
from adapters.http_lean import LeanHttp
from adapters.http_pool import http_client
from adapters.line import LineBodyLimit, LineChannel
from adapters.line import router as line_router
from adapters.line.webhook import WEBHOOK_PATH
from adapters.rasa_client import RasaClient
from adapters.ratelimit import RateLimit
from adapters.settings import Settings
from retrieval import Retriever

log = logging.getLogger(__name__)
# The one HTTP client (Rasa, the probes, the LINE API) keeps enough connections alive for a
# busy city: with httpx's default of 20, 32 concurrent residents (bench.load) made it open
# new ones all the time. Idle ones are dropped after 4 s, before Rasa's server (Sanic, 5 s)
# closes them under a request.
HTTP_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=128, keepalive_expiry=4.0)


def create_app(settings: Settings | None = None, retriever: Retriever | None = None) -> FastAPI:
    """Build the gateway.

    Args:
        settings: configuration; read from the environment when omitted.
        retriever: an already warmed-up retriever (tests share one); built from settings
            and warmed up in the lifespan otherwise.
    """
    settings = settings or Settings()
    security.check_secrets(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Pool bookkeeping made cheaper: adapters/http_pool.py.
        fast = settings.gateway.fast_http_pool
        lean = settings.gateway.lean_http_pool
        async with (http_client(HTTP_LIMITS, lean, settings.gateway.epoll_http_pool,
                                settings.gateway.reserve_pool_connections,
                                settings.gateway.acyclic_http_responses) if fast
                    else httpx.AsyncClient(limits=HTTP_LIMITS)) as http:
            app.state.settings = settings
            app.state.retriever = retriever or Retriever(settings.retrieval)
            if not app.state.retriever.ready:
                await run_in_threadpool(
                    lambda: app.state.retriever.warm_up(fallback_to_snapshot=True)
                )
            cache = install_query_cache(app.state.retriever, settings.gateway.query_cache_size)
            batcher = install_query_batcher(app.state.retriever, settings.gateway.query_batch_max)
            # Rasa's channel, the probes and the LINE API: adapters/http_lean.py.
            calls = LeanHttp(http, HTTP_LIMITS) if settings.gateway.lean_http_client else http
            app.state.rasa = RasaClient(settings.rasa, calls)
            app.state.chat = ChatService(app.state.rasa, app.state.retriever,
                                         share_vector=settings.gateway.share_query_vector)
            app.state.line = LineChannel(settings, calls, app.state.chat, app.state.retriever)
            close_clerk = clerk.open_clerk(app, settings)
            await app.state.rasa.probe()
            probe = asyncio.create_task(app.state.rasa.probe_forever())
            purge = asyncio.create_task(retention.purge_forever(settings))
            log.info("gateway ready: %d FAQ entries", len(app.state.retriever.kb.entries))
            frozen = freeze_startup_heap() if settings.gateway.gc_freeze else 0
            thresholds = gc.get_threshold()
            if settings.gateway.gc_threshold0:
                gc.set_threshold(settings.gateway.gc_threshold0, *thresholds[1:])
            try:
                yield
            finally:
                gc.set_threshold(*thresholds)
                if frozen:
                    gc.unfreeze()
                if cache is not None:
                    log.info("query embedding cache: %d hits, %d misses", cache.hits, cache.misses)
                if batcher is not None:
                    remove_query_batcher(app.state.retriever, batcher)
                    log.info("query embeddings: %d texts in %d batches (largest %d)",
                             batcher.texts, batcher.batches, batcher.largest)
                close_clerk()
                app.state.line.close()
                for task in (probe, purge):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if isinstance(calls, LeanHttp):
                    await calls.aclose()

    app = FastAPI(
        title="madoguchi gateway",
        version="0.1.0",
        description="Resident Q&A (Rasa + FAQ retrieval) and council-minutes services.",
        lifespan=lifespan,
        # Offline by construction: FastAPI's own OpenTelemetry (spans, metrics, and log
        # records carrying exception messages and rejected input — residents' text) stays
        # off, and FASTAPI_OTEL_AUTO_CONFIGURE / OTEL_EXPORTER_OTLP_* in the environment
        # cannot switch an export on.
        telemetry={"tracing": False, "metrics": False, "logs": False,
                   "operation_spans": False, "auto_configure": False},
    )
    app.add_middleware(
        clerk.ClerkBodyLimit,
        max_bytes=settings.clerk.max_chunk_bytes,
        other=lambda inner: LineBodyLimit(
            inner,
            max_bytes=settings.gateway.max_body_bytes,
            line_max_bytes=settings.line.max_body_bytes,
        ),
    )
    # Before the body is read: a throttled client costs no parsing. LINE is limited per user.
    app.add_middleware(RateLimit, settings=settings.gateway, exempt_paths=(WEBHOOK_PATH,))
    if settings.gateway.cors_origins:
        # Added last, so outermost: even a 413 from the body limit carries CORS headers.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.gateway.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Accept"],
            expose_headers=["X-Madoguchi-Mode", "Content-Language"],
            max_age=600,
        )
    # Outermost of all: every response, a 413 or a 429 included, gets the security headers.
    app.add_middleware(security.SecurityHeaders, settings=settings)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(api.router)
    app.include_router(line_router)
    widget.install(app)
    clerk.install(app)
    return app


def freeze_startup_heap() -> int:
    """Collect once, then move every object alive into the collector's permanent generation.

    Measured under ``bench.load`` (50 msg/s offered, session 7): the gateway holds ~250,000
    objects after start-up, and each of the full (generation 2) collections that load
    triggers walked them all, 0.15 s of CPU each — ~0.2 ms a message; frozen, the two full
    passes of a 30 s phase took 5 ms together. Frozen objects are never collected, so the
    collection first: garbage left by the warm-up is freed, not kept. Objects made later
    (requests, answers, tracker data) are collected as before. Returns how many are frozen.

    ``gateway.gc_threshold0`` goes with it: with Python's 700, the same run made 313
    young-generation passes (0.29 s CPU) and 28 middle ones (0.06 s), each walking the
    objects of the requests in flight; with 10,000, 10 and 1 (0.18 s + 0.006 s), most of it
    freeing httpx's response cycles — gone with ``gateway.acyclic_http_responses``
    (adapters/http_pool.py): then one young pass in such a run, 0.005 s.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {err.get('msg')}")
    return JSONResponse(
        status_code=422,
        content={"detail": "; ".join(parts) or "invalid request", "errors": _safe(errors)},
    )


def _safe(errors: list[Any]) -> list[dict[str, Any]]:
    # Validation errors may carry the raw input (bytes, huge strings): keep only the
    # location, type and message.
    return [{"loc": e.get("loc"), "type": e.get("type"), "msg": e.get("msg")} for e in errors]


def whisper_state(model_path: Path) -> dict[str, Any]:
    """Whether the configured Whisper model directory is complete (not loaded here)."""
    missing = [n for n in ("model.bin", "config.json", "tokenizer.json") if not (model_path / n).is_file()]
    return {
        "status": "up" if not missing else "down",
        "path": str(model_path),
        "detail": "complete" if not missing else f"missing {', '.join(missing)}",
    }
