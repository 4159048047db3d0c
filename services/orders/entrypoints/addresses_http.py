"""HTTP routes of the address book: the operator loads it from CSV, residents pick their building."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from services.orders.domain.addresses import COLUMNS, OPTIONAL, Building
from services.orders.entrypoints.http import unit_of_work
from services.orders.service_layer import addresses
from shared.auth import CurrentPrincipal, Principal, require
from shared.errors import Invalid
from shared.vocabulary.roles import Role

router = APIRouter(tags=["addresses"])

MAX_CSV_BYTES = 4 * 1024 * 1024


class BuildingAnswer(BaseModel):
    building_id: str
    estate_id: str
    estate_zh: str
    estate_en: str
    building: str
    label_zh: str
    label_en: str
    pinyin: str
    lat: float
    lon: float

    @classmethod
    def of(cls, b: Building) -> BuildingAnswer:
        return cls(
            building_id=b.building_id,
            estate_id=b.estate_id,
            estate_zh=b.estate_zh,
            estate_en=b.estate_en,
            building=b.building,
            label_zh=b.label_zh,
            label_en=b.label_en,
            pinyin=b.pinyin,
            lat=b.lat,
            lon=b.lon,
        )


class BookLoadedAnswer(BaseModel):
    buildings: int
    estates: int
    replaced: int


@router.get("/addresses/buildings")
async def buildings(
    request: Request,
    principal: CurrentPrincipal,
    q: str = Query("", max_length=100, description="the estate in Chinese, English or pinyin, and the building"),
    limit: int = Query(30, ge=1, le=200),
) -> list[BuildingAnswer]:
    """Buildings of the circle's address book whose estate or number matches every word of `q`."""
    async with unit_of_work(request, readonly=True) as uow:
        return [BuildingAnswer.of(b) for b in await addresses.search(uow, q, limit)]


@router.put(
    "/admin/address-book",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": f"UTF-8 CSV: {','.join(COLUMNS)}[,{','.join(OPTIONAL)}], one line per building",
        }
    },
    responses={422: {"description": "the file's problems, row by row; the book is left as it was"}},
)
async def load_book(request: Request, principal: Principal = Depends(require(Role.ADMIN))) -> BookLoadedAnswer:
    """Replace the circle's address book with a CSV file (`linli address-book load <file>` sends one)."""
    body = await request.body()
    if len(body) > MAX_CSV_BYTES:
        raise Invalid(f"the file is over {MAX_CSV_BYTES // (1024 * 1024)} MB; split the book")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Invalid(f"the file is not UTF-8 (byte {e.start}); save it as 'CSV UTF-8'") from None
    async with unit_of_work(request) as uow:
        loaded = await addresses.load(uow, text)
        answer = BookLoadedAnswer(buildings=loaded.buildings, estates=loaded.estates, replaced=loaded.replaced)
        await uow.audit.record(principal, "address_book", "circle", "replaced", after=answer.model_dump())
    return answer
