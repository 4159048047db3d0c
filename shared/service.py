"""One way to run a Linli service: FastAPI for HTTP, a FastStream KafkaBroker for events.

Each service describes itself with a `ServiceSpec` (its migrations, routes, consumers, the
events it publishes, its deadlines); `build_app` turns that into a FastAPI application whose
lifespan starts the database pool, Redis, the outbox relay, the deadline scheduler and the
broker, in that order, and stops them in reverse.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import prometheus_client
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.specification import AsyncAPI

from shared import db, outbox
from shared.auth import session_router
from shared.deadlines import DeadlineHandler, DeadlineScheduler, PostgresDeadlineStore, SystemClock
from shared.events.envelope import Envelope, Event
from shared.events.topics import Topic
from shared.inbox import Consumer, DeadLetters, Handler, RetryPolicy
from shared.kafka_admin import ensure_topics
from shared.retention import Housekeeper, Retention
from shared.settings import Settings
from shared.vocabulary.order_status import TransitionRefused
from shared.web import mount_console

log = logging.getLogger(__name__)
VERSION = "0.1.0"


@dataclass
class Runtime:
    """What a running service holds; routes reach it through `request.app.state.runtime`."""

    settings: Settings
    pool: asyncpg.Pool = None  # type: ignore[assignment]
    redis: aioredis.Redis = None  # type: ignore[assignment]
    broker: KafkaBroker = None  # type: ignore[assignment]
    relay: outbox.Relay = None  # type: ignore[assignment]
    scheduler: DeadlineScheduler = None  # type: ignore[assignment]
    dead_letters: DeadLetters = None  # type: ignore[assignment]
    deadlines: PostgresDeadlineStore = None  # type: ignore[assignment]
    consumers: list[Consumer] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)

    async def publish(self, conn: asyncpg.Connection, env: Envelope[Any]) -> None:
        """Record an event in the outbox, in the caller's transaction."""
        await outbox.record(conn, env, self.settings.service)


@dataclass
class Subscription:
    """A consumer group on a topic and what it does with each event type it cares about."""

    group: str
    topic: Topic
    handlers: dict[type[Event], Callable[[Runtime], Handler]]


def on_event(
    make_uow: Callable[[Runtime, asyncpg.Connection, Any], Any], use_case: Callable[[Any, Any], Awaitable[None]]
) -> Callable[[Runtime], Handler]:
    """An event handler that runs `use_case(unit_of_work, event)` inside the consumer's inbox transaction."""

    def make(runtime: Runtime) -> Handler:
        async def handle(conn: asyncpg.Connection, env: Any, event: Any) -> None:
            await use_case(make_uow(runtime, conn, env), event)

        return handle

    return make


@dataclass
class ServiceSpec:
    name: str
    title: str
    description: str
    migrations: Path
    routers: Sequence[APIRouter] = ()
    subscriptions: Sequence[Subscription] = ()
    publishes: Sequence[type[Event]] = ()
    deadlines: Mapping[str, Callable[[Runtime], DeadlineHandler]] = field(default_factory=dict)
    on_start: Callable[[Runtime], Awaitable[None]] | None = None
    on_stop: Callable[[Runtime], Awaitable[None]] | None = None  # undoes on_start, before the relay stops
    health_details: Callable[[Runtime], Awaitable[dict[str, Any]]] | None = None
    web: Path | None = None  # the service's console: static pages served under /app/


def declare_broker(
    spec: ServiceSpec, settings: Settings, runtime: Runtime, registry: prometheus_client.CollectorRegistry | None = None
) -> KafkaBroker:
    """The broker with every subscriber and (for the AsyncAPI document) every publisher declared."""
    middlewares = (KafkaPrometheusMiddleware(registry=registry, app_name=f"linli_{spec.name}"),) if registry else ()
    # Topics are declared by kafka_admin with their partitions; auto-creation would give one.
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"linli-{spec.name}",
        middlewares=middlewares,
        description=spec.description,
        allow_auto_create_topics=False,
    )
    retry = RetryPolicy(
        settings.consumer_retry_window_s, settings.consumer_retry_initial_s, settings.consumer_retry_max_s
    )
    for sub in spec.subscriptions:
        consumer = Consumer(
            name=sub.group,
            topic=sub.topic,
            handlers={cls: make(runtime) for cls, make in sub.handlers.items()},
            pool_getter=lambda: runtime.pool,
            dead_letters_getter=lambda: runtime.dead_letters,
            retry=retry,
        )
        consumer.subscribe(broker, fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms)
        runtime.consumers.append(consumer)
    for cls in spec.publishes:
        broker.publisher(
            cls.topic.name,
            title=f"{cls.topic.name}:{cls.__name__}",
            schema=Envelope[cls],  # type: ignore[valid-type]
            description=(cls.__doc__ or cls.__name__).strip().splitlines()[0],
        )
    return broker


def asyncapi_app(spec: ServiceSpec) -> FastStream:
    """The event catalog of one service, for `faststream docs gen` and `linli docs`."""
    settings = Settings(service=spec.name, kafka_bootstrap_servers="kafka:9092")
    broker = declare_broker(spec, settings, Runtime(settings))
    return FastStream(
        broker, specification=AsyncAPI(title=f"Linli {spec.title}", version=VERSION, description=spec.description)
    )


def _readable(errors: Sequence[Any]) -> str:
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        parts.append(f"{'.'.join(loc) or 'body'}: {err.get('msg')}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return JSONResponse({"detail": _readable(exc.errors()), "errors": errors}, status_code=422)

    @app.exception_handler(asyncpg.exceptions.DataError)
    async def unstorable(_: Request, exc: asyncpg.exceptions.DataError) -> JSONResponse:
        # PostgreSQL refused a value the validators let through (a NUL character in text, say):
        # that is the caller's input, not our failure.
        nul = (asyncpg.exceptions.CharacterNotInRepertoireError, asyncpg.exceptions.UntranslatableCharacterError)
        if isinstance(exc, nul):
            detail = "text must not contain NUL (\\u0000) characters"
        else:
            detail = f"a value could not be stored: {exc}"
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(TransitionRefused)
    async def refused(_: Request, exc: TransitionRefused) -> JSONResponse:
        return JSONResponse({"detail": exc.reason, "status": exc.current.value}, status_code=409)


def build_app(spec: ServiceSpec, settings: Settings) -> FastAPI:
    runtime = Runtime(settings)
    registry = prometheus_client.CollectorRegistry()
    broker = declare_broker(spec, settings, runtime, registry)
    runtime.broker = broker

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        runtime.pool = await db.create_pool(settings.database_url, settings.db_pool_min, settings.db_pool_max)
        async with runtime.pool.acquire() as conn:
            applied = await db.migrate(conn, [db.SHARED_MIGRATIONS, spec.migrations])
        if applied:
            log.info("%s: applied migrations %s", spec.name, ", ".join(applied))
        runtime.redis = aioredis.from_url(settings.redis_url, decode_responses=True)
        await ensure_topics(settings.kafka_bootstrap_servers)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
        await producer.start()
        runtime.dead_letters = DeadLetters(producer)
        runtime.deadlines = PostgresDeadlineStore(runtime.pool)
        runtime.relay = outbox.Relay(
            spec.name,
            settings.database_url,
            runtime.pool,
            settings.kafka_bootstrap_servers,
            batch_size=settings.relay_batch_size,
            poll_interval_s=settings.relay_poll_interval_s,
            retry_backoff_s=settings.relay_retry_backoff_s,
            leader_retry_s=settings.relay_leader_retry_s,
        )
        runtime.scheduler = DeadlineScheduler(
            runtime.deadlines,
            {kind: make(runtime) for kind, make in spec.deadlines.items()},
            SystemClock(),
            settings.deadline_poll_interval_s,
        )
        if spec.on_start is not None:
            await spec.on_start(runtime)
        housekeeper = Housekeeper(
            runtime.pool,
            Retention(
                settings.retention_outbox_h,
                settings.retention_inbox_h,
                settings.retention_deadlines_h,
                settings.retention_idempotency_h,
            ),
            settings.housekeeping_interval_s,
        )
        await runtime.relay.start()
        await runtime.scheduler.start()
        await housekeeper.start()
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            await housekeeper.stop()
            if spec.on_stop is not None:
                await spec.on_stop(runtime)
            await runtime.scheduler.stop()
            await runtime.relay.stop()
            await producer.stop()
            await runtime.redis.aclose()
            await runtime.pool.close()

    app = FastAPI(title=f"Linli {spec.title}", description=spec.description, version=VERSION, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    install_error_handlers(app)
    app.include_router(session_router())
    for router in spec.routers:
        app.include_router(router)
    app.mount("/metrics", prometheus_client.make_asgi_app(registry))
    if spec.web is not None:
        mount_console(app, spec.web, settings)

    @app.get("/health", tags=["operations"])
    async def health() -> JSONResponse:
        """Ready only when the database, Redis and the broker all answer; shows the outbox lag."""
        checks: dict[str, Any] = {}

        async def check(name: str, probe: Callable[[], Awaitable[Any]]) -> None:
            try:
                await asyncio.wait_for(probe(), 3.0)
                checks[name] = "ok"
            except Exception as e:
                checks[name] = f"failing: {e!r}"

        if runtime.pool is None:
            return JSONResponse({"status": "starting", "service": spec.name}, status_code=503)
        await check("database", lambda: runtime.pool.fetchval("SELECT 1"))
        await check("redis", lambda: runtime.redis.ping())
        await check("broker", _broker_probe(broker))
        body: dict[str, Any] = {
            "service": spec.name,
            "checks": checks,
            "uptime_s": round(time.time() - runtime.started_at, 1),
        }
        if checks["database"] == "ok":
            body["outbox"] = (await outbox.lag(runtime.pool)).as_dict()
            body["outbox"]["relay_leader"] = runtime.relay.is_leader if runtime.relay else False
            if spec.health_details is not None:
                body.update(await spec.health_details(runtime))
        body["consumers"] = {
            c.name: {"applied": c.applied, "duplicates": c.duplicates, "ignored": c.ignored} for c in runtime.consumers
        }
        body["dead_lettered"] = runtime.dead_letters.sent if runtime.dead_letters else 0
        ready = all(v == "ok" for v in checks.values())
        body["status"] = "ok" if ready else "unavailable"
        return JSONResponse(body, status_code=200 if ready else 503)

    return app


def _broker_probe(broker: KafkaBroker) -> Callable[[], Awaitable[None]]:
    async def probe() -> None:
        if not await broker.ping(timeout=2.0):
            raise HTTPException(503, "broker did not answer")

    return probe


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
