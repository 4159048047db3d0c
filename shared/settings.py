"""Configuration from the environment, one model for every service.

Every duration is a setting in seconds so that tests can run a three-minute accept limit in
two seconds without touching code.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SIGNING_KEY = "linli-development-signing-key-never-use-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINLI_", extra="ignore", env_file=None)

    service: str = "orders"
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/linli_orders",
        validation_alias=AliasChoices("DATABASE_URL", "LINLI_DATABASE_URL"),
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", validation_alias=AliasChoices("REDIS_URL", "LINLI_REDIS_URL")
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "LINLI_KAFKA_BOOTSTRAP_SERVERS"),
    )
    db_pool_min: int = 2
    db_pool_max: int = 20
    # Requests served at once before a new one is refused with 503 and Retry-After (0: no bound);
    # live streams are not counted.
    max_in_flight: int = 256

    # Tokens: development signs with a local key; production verifies an identity provider's
    # tokens with its public key and never signs anything itself.
    jwt_dev_key: str = DEV_SIGNING_KEY
    jwt_public_key: str | None = None
    jwt_algorithm: str = "HS256"
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # Signing in by naming a role, with no token: for `linli up` and tests only, never a deployment.
    allow_dev_sign_in: bool = False
    session_cookie: str = "linli_session"
    cookie_secure: bool = False

    cors_origins: list[str] = Field(
        default_factory=lambda: [
            "http://127.0.0.1:8001",
            "http://127.0.0.1:8002",
            "http://127.0.0.1:8003",
            "http://localhost:8001",
            "http://localhost:8002",
            "http://localhost:8003",
        ]
    )

    # Where a browser reaches each service (the consoles call each other's APIs across origins),
    # and an optional map tile server (`https://…/{z}/{x}/{y}.png`); without one the maps draw
    # the neighbourhood from Linli's own data, so no page needs the internet.
    orders_url: str = "http://127.0.0.1:8001"
    inventory_url: str = "http://127.0.0.1:8002"
    dispatch_url: str = "http://127.0.0.1:8003"
    map_tile_url: str | None = None
    # The datum the tiles are drawn in: "gcj02" for China's tile servers (Amap's), so markers
    # (stored in WGS-84) are shifted onto their streets; "wgs84" for OpenStreetMap's.
    map_tile_datum: Literal["wgs84", "gcj02"] = "wgs84"
    # The rider's "Navigate" buttons: always a geo: link, and this app's own link when set
    # (converted to GCJ-02 for Amap, BD-09 for Baidu).
    map_app: Literal["amap", "baidu"] | None = None

    # Outbox relay
    relay_batch_size: int = 200
    relay_poll_interval_s: float = 1.0
    relay_retry_backoff_s: float = 0.5
    relay_leader_retry_s: float = 2.0

    # Consumers: a transient failure retries in place this long, then goes to the DLQ.
    consumer_retry_window_s: float = 30.0
    consumer_retry_initial_s: float = 0.1
    consumer_retry_max_s: float = 5.0
    # How long a busy consumer group's fetch may wait for data. Kafka answers as soon as a message
    # arrives; tansu waits the whole time, so the wait is what each broker hop adds: the aiokafka
    # default (500 ms) put ~110 ms on every hop, 50 ms gave placed->confirmed p50 35 ms at 10
    # orders/s and 20 ms gives 22 ms (docs/performance.md). Quiet groups slow down (below).
    consumer_fetch_max_wait_ms: int = 20
    # A consumer group quiet this long fetches at the idle wait until its next batch
    # (shared/fetch_pacing.py): an idle stack then barely asks the broker anything.
    consumer_idle_after_s: float = 2.0
    consumer_idle_fetch_max_wait_ms: int = 250
    # A stable name for this instance of the service (say "orders-1"): with it, a restarted
    # instance rejoins its consumer groups at once (static membership). Two running instances
    # must never share one. On tansu, only a lone instance should have one (`linli up` does so):
    # a static group's second member is expelled after every join, in a loop.
    instance_id: str | None = None
    # Kafka's smallest allowed session (group.min.session.timeout.ms); heartbeats go every quarter of it.
    consumer_session_timeout_ms: int = 6_000
    # A fetch hands over up to this many messages, its partitions dealt into this many
    # transactions applied side by side (each partition in offset order).
    consumer_max_batch: int = 500
    consumer_concurrent_runs: int = 2
    # How long the consumer loop waits for a fetched message before asking again; it is handed
    # over the moment one arrives (shared/fetch_pacing.py), so this only sets the idle wake-ups.
    consumer_batch_timeout_ms: int = 200

    # Housekeeping: how long rows stay in the outbox (once published), inbox, deadlines, idempotency
    retention_outbox_h: float = 72
    retention_inbox_h: float = 24 * 14
    retention_deadlines_h: float = 72
    retention_idempotency_h: float = 48
    housekeeping_interval_s: float = 600

    # Deadlines
    deadline_poll_interval_s: float = 0.5

    # Business durations
    accept_limit_s: float = 180.0  # how long a shop has to accept a confirmed order
    approval_limit_s: float = 300.0  # how long a shopper has to answer a weight or substitution question
    weight_tolerance_pct: float = 10.0  # a weighed line this much over its estimate needs approval
    timezone: str = "Asia/Shanghai"  # the neighbourhood's local time, for opening hours
    platform_fee_fen: int = 0  # Linli's fee per order, on top of goods and delivery; zero in public-interest use

    # Dispatch
    round_interval_s: float = 3.0  # how often assignment re-solves over all open orders and free riders
    offer_limit_s: float = 30.0  # how long a rider has to accept an offer
    rider_silent_s: float = 60.0  # a rider not heard from this long is not offered work (and loses offers)
    rider_behind_s: float = 300.0  # a rider this far behind their ETA to the shop is reassigned
    max_hold_s: float = 180.0  # an order is held for a busy rider at most this long while a free one reaches the shop
    no_rider_limit_s: float = 600.0  # from the shop's acceptance, before the shopper is offered pickup
    pickup_offer_answer_s: float = 300.0  # how long the shopper has to take the pickup offer
    door_wait_s: float = 120.0  # how long a rider waits at the door (after calling) before a delivery can fail
    locker_collect_limit_s: float = 86400.0  # uncollected this long, a locker bag goes back to the shop

    # Text messages (services/orders news): late means the live ETA passes the promise by this much.
    # Without a gateway URL messages go to the recorder (a table and the /app/messages.html console).
    news_late_after_min: float = 5.0
    sms_gateway_url: str | None = None  # POST JSON {message_id, to, text, language}; Idempotency-Key header
    sms_gateway_token: str | None = None  # sent as `Authorization: Bearer …`
    sms_gateway_timeout_s: float = 10.0
    news_send_interval_s: float = 1.0  # how often the sender looks for messages due
    news_retry_initial_s: float = 5.0  # a failed send waits this long, doubling each time ...
    news_retry_max_s: float = 600.0  # ... up to this
    news_max_attempts: int = 8  # then the message is marked failed (shown in the console)
    news_keep_h: float = 24 * 30  # sent and withheld messages are deleted after this; failed ones stay

    # Codes resist guessing (shared/attempts.py): this many wrong codes for one order lock its code
    # this long; a subject may try this many codes a minute on one service's code routes together.
    code_wrong_tries_limit: int = 5
    code_lockout_s: float = 900.0
    code_tries_per_subject_per_min: int = 30
    rider_simulator: bool = False  # move the demo riders and let them take offers (linli up turns it on)

    demo_seed: bool = False
    demo_always_open: bool = False  # seed the demo shops open round the clock instead of their real hours

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, url: str | None) -> str | None:
        if not url:
            return None
        missing = [part for part in ("{z}", "{x}", "{y}") if part not in url]
        if missing:
            raise ValueError(
                "LINLI_MAP_TILE_URL must be a tile template with {z}, {x} and {y} "
                f"(missing {', '.join(missing)}), "
                "e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; unset it to draw maps from Linli's own data"
            )
        if not url.startswith(("https://", "http://", "/")):
            raise ValueError(f"LINLI_MAP_TILE_URL must be an http(s) URL or a path on this server, not {url!r}")
        return url

    @property
    def dev_signing(self) -> bool:
        """Tokens are signed locally only when no identity provider's public key is configured."""
        return self.jwt_public_key is None


@lru_cache
def get_settings() -> Settings:
    return Settings()
