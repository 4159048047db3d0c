"""HTTP routes for text messages: a person's choices (theirs, or a helper's for a resident they
registered), and the admin's read-only view of the messages sent, waiting and failed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.orders.adapters.messages import message_counts, recent_messages
from services.orders.domain.news import Choice, NewsPreferences
from services.orders.entrypoints.http import unit_of_work
from services.orders.service_layer import news
from shared.auth import CurrentPrincipal, Principal, require
from shared.service import runtime_of
from shared.settings import get_settings
from shared.vocabulary.roles import Role

router = APIRouter(tags=["news"])

PERSON = Path(min_length=1, max_length=100, pattern=r"^[^\s/]+$", description="yourself, or a resident you registered")


class NewsChoices(BaseModel):
    """What a person hears by text: nothing until chosen."""

    person: str
    choices: list[Choice] = Field(description="answer (confirmed or rejected), on_the_way, late, arrived")
    language: Literal["zh", "en"]
    phone: str | None = Field(description="null: the resident's phone, or the phone given with each order")
    late_after_min: float = Field(description="`late` is texted when the live ETA passes the promise by this much")

    @classmethod
    def of(cls, p: NewsPreferences) -> NewsChoices:
        return cls(
            person=p.person,
            choices=sorted(p.choices),
            language=p.language,  # type: ignore[arg-type]
            phone=p.phone,
            late_after_min=get_settings().news_late_after_min,
        )


class NewsChange(BaseModel):
    """Only what is sent changes; send phone null to fall back to the resident's or the order's phone."""

    model_config = ConfigDict(extra="forbid")
    choices: list[Choice] | None = None
    language: Literal["zh", "en"] | None = None
    phone: str | None = Field(None, max_length=30)


@router.get("/news/preferences/{person}", responses={403: {"description": "not you, nor a resident you registered"}})
async def get_choices(request: Request, principal: CurrentPrincipal, person: str = PERSON) -> NewsChoices:
    async with unit_of_work(request, readonly=True) as uow:
        return NewsChoices.of(await news.preferences(uow, principal, person))


@router.put("/news/preferences/{person}", responses={403: {"description": "not you, nor a resident you registered"}})
async def change_choices(
    body: NewsChange, request: Request, principal: CurrentPrincipal, person: str = PERSON
) -> NewsChoices:
    """Choose the moments to be texted about, the language and the phone, for yourself or a resident you registered."""
    async with unit_of_work(request) as uow:
        return NewsChoices.of(await news.choose(uow, principal, person, body.model_dump(exclude_unset=True)))


class MessageAnswer(BaseModel):
    message_id: uuid.UUID
    order_id: str
    recipient: str
    moment: str
    phone: str
    language: str
    body: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    recorded_sends: int | None = Field(description="how many times the recorder was given it (kept once)")


class MessagesAnswer(BaseModel):
    notifier: str
    counts: dict[str, int]
    messages: list[MessageAnswer]


@router.get("/news/messages")
async def messages(
    request: Request,
    _: Principal = Depends(require(Role.ADMIN)),
    status: Literal["pending", "sent", "failed", "withheld"] | None = Query(None),
    limit: int = Query(100, ge=1, le=500),
) -> MessagesAnswer:
    """The newest text messages and how each went (admin only): the console's messages page."""
    runtime = runtime_of(request)
    notifier = "sms_gateway" if runtime.settings.sms_gateway_url else "recorder"
    rows = await recent_messages(runtime.pool, status, limit)
    return MessagesAnswer(
        notifier=notifier,
        counts=await message_counts(runtime.pool),
        messages=[MessageAnswer(**r) for r in rows],
    )
