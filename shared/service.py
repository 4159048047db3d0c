"""One way to run a Linli service: FastAPI for HTTP, a FastStream KafkaBroker for events.

Each service describes itself with a `ServiceSpec` (its migrations, routes, consumers, the
events it publishes, its deadlines, its unit of work and its background loops); `build_app`
turns that into a FastAPI application whose lifespan starts the database pool, Redis, the
producer, the outbox relay, the deadline scheduler, the service's own loops and the broker.
Every part is entered on one `AsyncExitStack`, so a failure half-way through start-up closes
what was already open, and shutdown closes everything in reverse.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
from pydantic import BaseModel, ConfigDict, Field

from shared import db, outbox
from shared.audit import audit_router
from shared.auth import session_router
from shared.background import BackgroundLoop
from shared.clock import Clock, SystemClock
from shared.deadlines import DeadlineHandler, DeadlineScheduler
from shared.dependencies import BROKER, DATABASE, DEPENDENCY_FAILURES, REDIS, Unavailable, away
from shared.errors import Refusal
from shared.events.envelope import Envelope, Event, RawEnvelope
from shared.events.topics import Topic
from shared.fetch_pacing import FetchPacer, FetchPacing
from shared.inbox import BatchHandler, Consumer, DeadLetters, Handler, RetryPolicy
from shared.kafka_admin import ensure_topics
from shared.overload import InFlightLimit
from shared.retention import Housekeeper, Retention
from shared.settings import Settings
from shared.unit_of_work import UnitOfWork
from shared.version import VERSION
from shared.web import mount_console

log = logging.getLogger(__name__)
ON_START_LOCK = 7_351_002  # next to db.MIGRATION_LOCK: one instance of a service runs on_start at a time


class MakeUnitOfWork(Protocol):
    """A service's unit of work for a running service: `make(runtime, cause=…, correlation_id=…, readonly=…)`."""

    def __call__(
        self, runtime: Runtime, *, cause: RawEnvelope | None, correlation_id: str | None, readonly: bool
    ) -> UnitOfWork: ...


@dataclass
class Runtime:
    """What a running service holds, every part started; routes reach it through `runtime_of(request)`."""

    spec: ServiceSpec
    settings: Settings
    clock: Clock
    pool: asyncpg.Pool
    redis: aioredis.Redis
    broker: KafkaBroker
    dead_letters: DeadLetters
    consumers: list[Consumer]
    loops: list[BackgroundLoop] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    startup: dict[str, float] = field(default_factory=dict)  # seconds each start-up phase took

    def unit_of_work(
        self, *, cause: RawEnvelope | None = None, correlation_id: str | None = None, readonly: bool = False
    ) -> UnitOfWork:
        return self.spec.unit_of_work(self, cause=cause, correlation_id=correlation_id, readonly=readonly)

    def loop(self, kind: type[BackgroundLoop]) -> Any:
        """The running loop of that kind (the relay, say), for health and tests."""
        return next(loop for loop in self.loops if isinstance(loop, kind))

    async def answers(self, dependency: str) -> bool:
        """Whether `dependency` (database, redis, broker) answers now: a paused consumer's probe."""
        try:
            if dependency == DATABASE:
                await asyncio.wait_for(self.pool.fetchval("SELECT 1"), 2.0)
            elif dependency == REDIS:
                await asyncio.wait_for(self.redis.ping(), 2.0)
            elif dependency == BROKER:
                return bool(await self.broker.ping(timeout=2.0))
        except Exception:
            return False
        return True


@dataclass
class Subscription:
    """A consumer group on a topic and the use case it applies to each event type it cares about."""

    group: str
    topic: Topic
    handlers: Mapping[type[Event], Handler]
    # Optional set-based use cases for runs of one event type; `handlers` still applies each alone.
    batch_handlers: Mapping[type[Event], BatchHandler] = field(default_factory=dict)


# A loop the service runs beside its routes for its whole life; None where settings turn it off.
LoopFactory = Callable[[Runtime], BackgroundLoop | None]


@dataclass
class ServiceSpec:
    name: str
    title: str
    description: str
    migrations: Path
    unit_of_work: MakeUnitOfWork
    routers: Sequence[APIRouter] = ()
    subscriptions: Sequence[Subscription] = ()
    publishes: Sequence[type[Event]] = ()
    deadlines: Mapping[str, DeadlineHandler] = field(default_factory=dict)
    background: Sequence[LoopFactory] = ()  # started after the relay and scheduler, stopped before them
    on_start: Callable[[Runtime], Awaitable[None]] | None = None  # seeding and announcements, before the loops
    health_details: Callable[[Runtime], Awaitable[dict[str, Any]]] | None = None
    web: Path | None = None  # the service's console: static pages served under /app/


class HealthAnswer(BaseModel):
    """What /health says: each dependency's check, the outbox lag, what the consumers applied."""

    model_config = ConfigDict(extra="allow")  # a service adds its own details (ServiceSpec.health_details)

    status: str = Field(
        description="ok, degraded (Redis fails: only what needs it answers 503), unavailable (the database "
        "or the broker fails) or starting"
    )
    service: str
    checks: dict[str, str] | None = Field(default=None, description='"ok" or "failing: …" per dependency')
    uptime_s: float | None = None
    startup_s: dict[str, float] | None = Field(default=None, description="seconds each start-up phase took")
    outbox: dict[str, float | int | bool] | None = None
    consumers: dict[str, dict[str, Any]] | None = Field(
        default=None,
        description="per consumer group: applied, duplicates, ignored, outages, and `paused` (what it waits "
        "for, since when) while a dependency is away and its offset is held",
    )
    dead_lettered: int | None = None
    broker: dict[str, Any] | None = Field(
        default=None, description="the broker's epoch, and what the relay re-sent after the broker lost everything"
    )


class _Late:
    """The runtime as seen by consumers declared before it exists: they only call it once it does."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None

    def __call__(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("the service has not started")
        return self.runtime


def declare_broker(
    spec: ServiceSpec,
    settings: Settings,
    runtime: Callable[[], Runtime],
    registry: prometheus_client.CollectorRegistry | None = None,
) -> tuple[KafkaBroker, list[Consumer]]:
    """The broker with every subscriber and (for the AsyncAPI document) every publisher declared."""
    middlewares = (KafkaPrometheusMiddleware(registry=registry, app_name=f"linli_{spec.name}"),) if registry else ()
    # Topics are declared by kafka_admin with their partitions; auto-creation would give one.
    broker = ConcurrentBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"linli-{spec.name}",
        middlewares=middlewares,
        description=spec.description,
        allow_auto_create_topics=False,
    )
    retry = RetryPolicy(
        settings.consumer_retry_window_s, settings.consumer_retry_initial_s, settings.consumer_retry_max_s
    )
    consumers = []
    for sub in spec.subscriptions:
        consumer = Consumer(
            name=sub.group,
            topic=sub.topic,
            handlers=sub.handlers,
            unit_of_work=lambda env: runtime().unit_of_work(cause=env),
            dead_letters_getter=lambda: runtime().dead_letters,
            probe=lambda dependency: runtime().answers(dependency),
            retry=retry,
            batch_handlers=sub.batch_handlers,
            concurrent_runs=settings.consumer_concurrent_runs,
        )
        consumer.subscribe(
            broker,
            fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
            instance_id=settings.instance_id,
            session_timeout_ms=settings.consumer_session_timeout_ms,
            max_batch=settings.consumer_max_batch,
            batch_timeout_ms=settings.consumer_batch_timeout_ms,
            pacing=FetchPacing(
                settings.consumer_fetch_max_wait_ms,
                max(settings.consumer_fetch_max_wait_ms, settings.consumer_idle_fetch_max_wait_ms),
                settings.consumer_idle_after_s,
            ),
        )
        consumers.append(consumer)
    for cls in spec.publishes:
        broker.publisher(
            cls.topic.name,
            title=f"{cls.topic.name}:{cls.__name__}",
            schema=Envelope[cls],  # type: ignore[valid-type]
            description=(cls.__doc__ or cls.__name__).strip().splitlines()[0],
        )
    return broker, consumers


def asyncapi_app(spec: ServiceSpec) -> FastStream:
    """The event catalog of one service, for `faststream docs gen` and `linli docs`."""
    settings = Settings(service=spec.name, kafka_bootstrap_servers="kafka:9092")
    broker, _ = declare_broker(spec, settings, _Late())
    return FastStream(
        broker,
        specification=AsyncAPI(title=f"Linli {spec.title}", version=VERSION, description=spec.description),
    )


def _readable(errors: Sequence[Any]) -> str:
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        parts.append(f"{'.'.join(loc) or 'body'}: {err.get('msg')}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """The one mapping from refusals to HTTP for every service; anything else is a logged 500."""

    @app.exception_handler(Refusal)
    async def refused(_: Request, exc: Refusal) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())

    async def dependency_away(_: Request, exc: Exception) -> JSONResponse:
        dependency = away(exc)
        if dependency is None:  # an OSError or asyncpg error of our own making: a bug, not an outage
            log.error("unexpected failure", exc_info=exc)
            return JSONResponse({"detail": "internal error"}, status_code=500)
        retry_after = exc.retry_after_s if isinstance(exc, Unavailable) else 2
        detail = str(exc) if isinstance(exc, Unavailable) else f"the {dependency} is unavailable; try again shortly"
        log.warning("answering 503: the %s is unavailable (%r)", dependency, exc)
        return JSONResponse(
            {"detail": detail, "unavailable": dependency},
            status_code=503,
            headers={"Retry-After": str(retry_after)},
        )

    for away_class in DEPENDENCY_FAILURES:
        app.add_exception_handler(away_class, dependency_away)

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


@asynccontextmanager
async def _running(loop: BackgroundLoop) -> AsyncIterator[BackgroundLoop]:
    await loop.start()
    try:
        yield loop
    finally:
        await loop.stop()


class ConcurrentBroker(KafkaBroker):
    """A KafkaBroker whose subscribers join their consumer groups at once, not one after another.

    Joining a group waits for its assignment (several seconds, and after a crash until the dead
    member's session expires); FastStream starts subscribers in turn, so a service with four
    groups would start four times as late.
    """

    async def start(self) -> None:
        await self.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


class _Phases:
    """How long each step of start-up took: logged, and shown on /health, so a slow start says why."""

    def __init__(self) -> None:
        self.took: dict[str, float] = {}
        self._mark = time.monotonic()

    def done(self, phase: str) -> None:
        now = time.monotonic()
        self.took[phase] = round(now - self._mark, 3)
        self._mark = now


async def start_runtime(
    spec: ServiceSpec, settings: Settings, stack: AsyncExitStack, broker: KafkaBroker, consumers: list[Consumer]
) -> Runtime:
    """Start every part of a service on `stack`; whatever fails, what had started is closed by the stack."""
    phases = _Phases()
    pool = await db.create_pool(settings.database_url, settings.db_pool_min, settings.db_pool_max)
    stack.push_async_callback(pool.close)
    phases.done("database")
    async with pool.acquire() as conn:
        applied = await db.migrate(conn, [db.SHARED_MIGRATIONS, spec.migrations])
    if applied:
        log.info("%s: applied migrations %s", spec.name, ", ".join(applied))
    phases.done("migrations")
    redis = aioredis.from_url(settings.redis_url, decode_responses=True)
    stack.push_async_callback(redis.aclose)
    await ensure_topics(settings.kafka_bootstrap_servers)
    phases.done("topics")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    stack.push_async_callback(producer.stop)
    phases.done("producer")
    runtime = Runtime(
        spec=spec,
        settings=settings,
        clock=SystemClock(),
        pool=pool,
        redis=redis,
        broker=broker,
        dead_letters=DeadLetters(producer),
        consumers=consumers,
        startup=phases.took,
    )
    relay = outbox.Relay(
        spec.name,
        settings.database_url,
        pool,
        settings.kafka_bootstrap_servers,
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
        retry_backoff_s=settings.relay_retry_backoff_s,
        leader_retry_s=settings.relay_leader_retry_s,
    )
    scheduler = DeadlineScheduler(
        runtime.unit_of_work, spec.deadlines, runtime.clock, settings.deadline_poll_interval_s
    )
    housekeeper = Housekeeper(
        pool,
        Retention(
            settings.retention_outbox_h,
            settings.retention_inbox_h,
            settings.retention_deadlines_h,
            settings.retention_idempotency_h,
        ),
        settings.housekeeping_interval_s,
    )
    if spec.on_start is not None:
        # Replicas starting together take turns: seeding and announcements check what exists and
        # add what is missing, which is only safe one instance at a time.
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", ON_START_LOCK)
            try:
                await spec.on_start(runtime)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", ON_START_LOCK)
    phases.done("on_start")
    own = [loop for make in spec.background if (loop := make(runtime)) is not None]
    pacer = FetchPacer([c.paced for c in consumers if c.paced is not None])
    for loop in [relay, scheduler, housekeeper, pacer, *own]:
        runtime.loops.append(await stack.enter_async_context(_running(loop)))
    phases.done("loops")
    stack.push_async_callback(broker.stop)  # before start: a start that fails half-way is stopped too
    await broker.start()
    phases.done("broker")
    log.info(
        "%s started in %.1fs (%s)",
        spec.name,
        sum(phases.took.values()),
        ", ".join(f"{k} {v:.2f}s" for k, v in phases.took.items()),
    )
    return runtime


def build_app(spec: ServiceSpec, settings: Settings) -> FastAPI:
    registry = prometheus_client.CollectorRegistry()
    late = _Late()
    broker, consumers = declare_broker(spec, settings, late, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            late.runtime = app.state.runtime = await start_runtime(spec, settings, stack, broker, consumers)
            try:
                yield
            finally:
                late.runtime = app.state.runtime = None

    app = FastAPI(title=f"Linli {spec.title}", description=spec.description, version=VERSION, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = None
    # Added first, so it runs inside CORS: a refusal still carries the headers a browser needs.
    app.add_middleware(InFlightLimit, limit=settings.max_in_flight)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    install_error_handlers(app)
    app.include_router(session_router())
    app.include_router(audit_router())  # every service keeps its record of changes (shared/audit.py)
    for router in spec.routers:
        app.include_router(router)
    app.mount("/metrics", prometheus_client.make_asgi_app(registry))
    if spec.web is not None:
        mount_console(app, spec.web, settings)

    @app.get(
        "/health",
        tags=["operations"],
        response_model=None,
        responses={200: {"model": HealthAnswer}, 503: {"model": HealthAnswer}},
    )
    async def health() -> JSONResponse:
        """Ready only when the database, Redis and the broker all answer; shows the outbox lag.

        Answers `application/json` in every case, 503 while starting or while a dependency fails.
        """
        runtime: Runtime | None = app.state.runtime
        if runtime is None:
            return JSONResponse({"status": "starting", "service": spec.name}, status_code=503)
        return await _health(runtime)

    return app


async def _health(runtime: Runtime) -> JSONResponse:
    checks: dict[str, Any] = {}

    async def check(name: str, probe: Callable[[], Awaitable[Any]]) -> None:
        try:
            await asyncio.wait_for(probe(), 3.0)
            checks[name] = "ok"
        except Exception as e:
            checks[name] = f"failing: {e!r}"

    await check("database", lambda: runtime.pool.fetchval("SELECT 1"))
    await check("redis", runtime.redis.ping)
    await check("broker", _broker_probe(runtime.broker))
    body: dict[str, Any] = {
        "service": runtime.spec.name,
        "checks": checks,
        "uptime_s": round(time.time() - runtime.started_at, 1),
        "startup_s": runtime.startup,
    }
    if checks["database"] == "ok":
        body["outbox"] = (await outbox.lag(runtime.pool)).as_dict()
        body["outbox"]["relay_leader"] = runtime.loop(outbox.Relay).is_leader
        if runtime.spec.health_details is not None:
            body.update(await runtime.spec.health_details(runtime))
    body["consumers"] = {c.name: _consumer_health(c) for c in runtime.consumers}
    body["dead_lettered"] = runtime.dead_letters.sent
    body["broker"] = runtime.loop(outbox.Relay).broker_health()  # its epoch; what a loss of it re-sent
    ready = all(v == "ok" for k, v in checks.items() if k != "redis")  # without Redis, only live views stop
    body["status"] = ("ok" if checks["redis"] == "ok" else "degraded") if ready else "unavailable"
    return JSONResponse(body, status_code=200 if ready else 503)


def _consumer_health(consumer: Consumer) -> dict[str, Any]:
    health: dict[str, Any] = {
        "applied": consumer.applied,
        "duplicates": consumer.duplicates,
        "ignored": consumer.ignored,
        "outages": consumer.outages,
    }
    if consumer.outage is not None:
        health["paused"] = consumer.outage.as_dict()  # waiting for a dependency, its offset held
    return health


def _broker_probe(broker: KafkaBroker) -> Callable[[], Awaitable[None]]:
    async def probe() -> None:
        if not await broker.ping(timeout=2.0):
            raise HTTPException(503, "broker did not answer")

    return probe


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime | None = request.app.state.runtime
    if runtime is None:
        raise HTTPException(503, "the service is starting", headers={"Retry-After": "1"})
    return runtime
