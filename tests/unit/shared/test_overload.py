"""Overload is refused at once with 503 and Retry-After, and live streams never count against it."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from shared.overload import InFlightLimit


def busy_app(gate: asyncio.Event) -> FastAPI:
    app = FastAPI()

    @app.post("/orders")
    async def place() -> dict[str, bool]:
        await gate.wait()
        return {"ok": True}

    @app.get("/orders/o1/stream")
    async def stream() -> StreamingResponse:
        async def events():  # type: ignore[no-untyped-def]
            yield "event: order\ndata: {}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(InFlightLimit, limit=2, retry_after_s=3)
    return app


async def test_the_request_past_the_bound_is_refused_at_once_and_the_others_are_served() -> None:
    gate = asyncio.Event()
    app = busy_app(gate)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        first = asyncio.create_task(client.post("/orders"))
        second = asyncio.create_task(client.post("/orders"))
        await asyncio.sleep(0.05)
        refused = await asyncio.wait_for(client.post("/orders"), 2)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "3"
        assert "serving 2 requests" in refused.json()["detail"]
        assert (await client.get("/health")).status_code == 200, "an operator can still ask"
        assert (await client.get("/orders/o1/stream")).status_code == 200, "a live stream is not counted"
        gate.set()
        assert [r.status_code for r in await asyncio.gather(first, second)] == [200, 200]
        assert (await client.post("/orders")).status_code == 200, "room again once they finished"
