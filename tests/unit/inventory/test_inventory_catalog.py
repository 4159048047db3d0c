"""Locations and products: their rules, and the catalog use cases on the in-memory unit of work."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.inventory.domain.catalog import KEEP, Location, LocationChanges, Product, ProductChanges
from services.inventory.service_layer import catalog
from shared.errors import Conflict, Invalid
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.units import StockUnit
from tests.unit.inventory.fakes import InventoryFakeUnitOfWork, location

CHIVES = ProductChanges(
    name_zh="韭菜", name_en="Chinese chives", category="vegetables", unit=StockUnit.GRAM, price_fen=900
)
BUNCHES = replace(CHIVES, unit=StockUnit.PIECE)


def test_a_stall_needs_a_market_and_nothing_else_has_a_parent() -> None:
    market, shop = location("market", LocationKind.MARKET), location("shop", LocationKind.SHOP)
    location("veg", LocationKind.STALL, "market").check_parent(market)
    with pytest.raises(Invalid, match="a stall's parent_id must be a market; 'shop' is not"):
        location("veg", LocationKind.STALL, "shop").check_parent(shop)
    with pytest.raises(Invalid, match="must be a market; None is not"):
        location("veg", LocationKind.STALL).check_parent(None)
    with pytest.raises(Invalid, match="only a stall has a parent; a shop does not"):
        location("kiosk", LocationKind.SHOP, "market").check_parent(market)


def test_a_put_keeps_how_a_location_works_but_never_its_kind() -> None:
    shop = location("shop", LocationKind.SHOP, paused=True, delivery_fee_fen=300)
    shop.redefine(LocationKind.SHOP, LocationChanges(name_en="Corner Shop", windows=[]))
    assert (shop.name_en, shop.paused, shop.delivery_fee_fen, shop.windows) == ("Corner Shop", True, 300, None)
    with pytest.raises(Invalid, match="'shop' is a shop; its kind cannot change"):
        shop.redefine(LocationKind.MARKET, LocationChanges())


def test_a_change_may_clear_only_what_can_be_cleared() -> None:
    assert LocationChanges(windows=None, weight_tolerance_pct=None).paused is KEEP
    with pytest.raises(Invalid, match="paused cannot be null; leave it out to keep it"):
        LocationChanges(paused=None)  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="price_fen cannot be null"):
        ProductChanges(price_fen=None)  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="a new location needs lat, lon"):
        Location.define("x", LocationKind.SHOP, LocationChanges(category="c", name_zh="x", name_en="x"))


def test_a_product_is_sold_by_a_shop_or_stall_and_answers_for_its_store() -> None:
    veg = location("veg", LocationKind.STALL, "market")
    chives = Product.list_at(veg, "chives", replace(CHIVES, grams_per_piece=250))
    assert (chives.location_id, chives.store_id, chives.active) == ("veg", "market", True)
    with pytest.raises(Invalid, match="a market sells through its stalls"):
        Product.list_at(location("market", LocationKind.MARKET), "chives", CHIVES)
    with pytest.raises(Invalid, match="needs grams_per_piece"):
        Product.list_at(veg, "chives", CHIVES)
    loose = chives.revised(ProductChanges(unit=StockUnit.PIECE), veg, reserved=0)
    assert loose.grams_per_piece is None  # only weighed goods have a piece weight
    with pytest.raises(Invalid, match="reserved for orders in g; its unit cannot change now"):
        chives.revised(ProductChanges(unit=StockUnit.PIECE), veg, reserved=250)
    with pytest.raises(Invalid, match="is sold by g; a product's unit cannot change"):
        chives.edited(ProductChanges(unit=StockUnit.PIECE), veg)
    assert chives.edited(ProductChanges(price_fen=950), veg).differences(chives) == {
        "price_fen": {"from": 900, "to": 950}
    }


async def test_a_product_id_is_created_once(uow: InventoryFakeUnitOfWork) -> None:
    async with uow:
        made = await catalog.create_product(
            uow,
            "shop",
            BUNCHES,
            "wang",
            product_id="chives",
            on_hand=5,
        )
    assert (made.product.store_id, made.available) == ("shop", 5)
    assert [e.type for e in uow.events] == ["ProductUpserted"]
    with pytest.raises(Conflict, match="product 'chives' already exists; change it with PATCH /products/chives"):
        async with uow:
            await catalog.create_product(uow, "shop", BUNCHES, "li", product_id="chives")
    assert [e.type for e in uow.events] == ["ProductUpserted"]  # the refusal published nothing
    assert [(pid, actor, change) for pid, actor, change, _ in uow.products.history] == [("chives", "wang", "created")]


async def test_adding_a_stall_to_a_shop_is_refused_and_publishes_nothing(uow: InventoryFakeUnitOfWork) -> None:
    stall = LocationChanges(parent_id="shop", category="c", name_zh="x", name_en="x", lat=32.0, lon=118.0)
    with pytest.raises(Invalid, match="'shop' is not"):
        async with uow:
            await catalog.upsert_location(uow, "tofu", LocationKind.STALL, stall)
    assert uow.events == []
    assert await uow.locations.get("tofu") is None
