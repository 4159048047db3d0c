"""Keeping the catalog against real PostgreSQL: an id is created once, even when two staff try at the same moment."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from services.inventory.domain.catalog import ProductChanges
from services.inventory.service_layer import catalog
from shared.errors import Conflict
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.integration.inventory.support import as_, run, unit_of_work

SHOP = as_(Role.STORE_STAFF, "shop")
VINEGAR = {"id": "vinegar", "name_zh": "香醋", "name_en": "Vinegar", "category": "grocery", "unit": "piece"}


async def test_creating_a_product_whose_id_exists_is_a_conflict_that_says_so(
    inv: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    first = await client.post("/locations/shop/products", headers=SHOP, json={**VINEGAR, "price_fen": 850})
    assert first.status_code == 201, first.text
    again = await client.post("/locations/shop/products", headers=SHOP, json={**VINEGAR, "price_fen": 1})
    assert again.status_code == 409, again.text
    assert again.json()["detail"] == "product 'vinegar' already exists; change it with PATCH /products/vinegar"
    seeded = await client.post(
        "/locations/shop/products", headers=SHOP, json={**VINEGAR, "id": "water", "price_fen": 1}
    )
    assert seeded.status_code == 409, seeded.text
    assert await inv.fetchval("SELECT price_fen FROM products WHERE id = 'vinegar'") == 850
    assert await inv.fetchval("SELECT price_fen FROM products WHERE id = 'water'") == 200


async def test_two_staff_creating_the_same_id_at_once_get_one_product_and_one_conflict(inv: asyncpg.Pool) -> None:
    def vinegar(price_fen: int) -> ProductChanges:
        return ProductChanges(
            name_zh="香醋", name_en="Vinegar", category="grocery", unit=StockUnit.PIECE, price_fen=price_fen
        )

    async def second() -> None:
        await run(inv, lambda uow: catalog.create_product(uow, "shop", vinegar(900), "li", product_id="vinegar"))

    async with unit_of_work(inv) as first:
        await catalog.create_product(first, "shop", vinegar(850), "wang", product_id="vinegar")
        # Li's check finds no vinegar yet (Wang has not committed); the insert then waits for Wang's row.
        li = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not li.done()
    with pytest.raises(Conflict, match="product 'vinegar' already exists"):
        await li
    assert await inv.fetchval("SELECT price_fen FROM products WHERE id = 'vinegar'") == 850
    assert await inv.fetchval("SELECT count(*) FROM product_changes WHERE product_id = 'vinegar'") == 1
