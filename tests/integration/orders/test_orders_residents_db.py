"""Help, remembered substitutions and ratings against real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from services.orders.domain.basket import BasketProblem
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.lines import OrderLine, SubstitutionChoice, SubstitutionMode
from services.orders.domain.order import Order
from services.orders.domain.placing import Placement, PlacingAsk
from services.orders.domain.rating import Rating, RatingInvalid, RatingRefused
from services.orders.service_layer import preferences, ratings, residents
from services.orders.service_layer.residents import Orderer
from services.orders.service_layer.unit_of_work import PostgresOrdersUnitOfWork
from shared.auth import Principal
from shared.errors import Forbidden, NotFound
from shared.events.contracts import DeliveryAddress, HandlingFlags
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import run, unit_of_work

LI = Principal("helper-li", Role.HELPER)
WANG = Principal("helper-wang", Role.HELPER)
DAD = Principal("dad", Role.SHOPPER)
DESK = Principal("desk", Role.ADMIN)
ADDRESS = {"text": "Building 3, 2-401", "lat": 32.04, "lon": 118.79}


async def resolve_orderer(uow: PostgresOrdersUnitOfWork, principal: Principal, on_behalf_of: str | None) -> Orderer:
    """Whom placing orders for, from what its one read finds (as checkout asks it)."""
    holder = residents.placed_for(principal, on_behalf_of)
    helper = principal.subject if principal.role is Role.HELPER else None
    needs = await uow.placing.needs(PlacingAsk(holder, "shop", [], [], helper=helper))
    return residents.orderer(principal, holder, needs)


async def register_zhou(pool: asyncpg.Pool) -> str:
    async with unit_of_work(pool) as uow:
        zhou = await residents.register(
            uow,
            LI,
            {
                "name": "Zhou Ayi",
                "address": ADDRESS,
                "phone": "+86 139 0000 0000",
                "call_before_delivery": True,
                "pay_on_delivery": True,
                "note": "hard of hearing",
            },
        )
    return zhou.resident_id


async def test_a_helper_orders_for_their_resident_with_the_residents_door_and_flags(orders_pool: asyncpg.Pool) -> None:
    zhou = await register_zhou(orders_pool)
    async with unit_of_work(orders_pool) as uow:
        orderer = await resolve_orderer(uow, LI, zhou)
        assert orderer == Orderer(
            placed_for=zhou,
            address=DeliveryAddress(**ADDRESS),
            flags=HandlingFlags(call_before_delivery=True, pay_on_delivery=True),
            phone="+86 139 0000 0000",
            pay_on_delivery_default=True,
        )
        with pytest.raises(Forbidden, match=f"you do not help {zhou}"):
            await resolve_orderer(uow, WANG, zhou)
        with pytest.raises(BasketProblem, match="set on_behalf_of"):
            await resolve_orderer(uow, LI, None)


async def test_a_shopper_orders_for_themselves_or_is_refused(orders_pool: asyncpg.Pool) -> None:
    zhou = await register_zhou(orders_pool)
    async with unit_of_work(orders_pool) as uow:
        assert (await resolve_orderer(uow, DAD, None)).placed_for == "dad"
        assert (await resolve_orderer(uow, DAD, "dad")) == Orderer(placed_for="dad")
        with pytest.raises(Forbidden):
            await resolve_orderer(uow, DAD, zhou)


async def test_naming_a_helper_lets_them_act_until_the_shopper_stops_it(orders_pool: asyncpg.Pool) -> None:
    zhou = await register_zhou(orders_pool)
    async with unit_of_work(orders_pool) as uow:
        assert not await residents.may_act_for(uow, WANG, "dad")
        with pytest.raises(Forbidden):
            await resolve_orderer(uow, WANG, "dad")
        assert await residents.name_helper(uow, DAD, WANG.subject)
        assert not await residents.name_helper(uow, DAD, WANG.subject)  # again: nothing new
        assert await residents.may_act_for(uow, WANG, "dad")
        assert (await resolve_orderer(uow, WANG, "dad")) == Orderer(placed_for="dad")
        assert [h.helper for h in await residents.helpers_of(uow, DAD)] == [WANG.subject]
        await residents.unname_helper(uow, DAD, WANG.subject)
        assert not await residents.may_act_for(uow, WANG, "dad")
        with pytest.raises(NotFound):
            await residents.unname_helper(uow, DAD, WANG.subject)
        # the others: a helper for their own resident, an admin for anyone, nobody for a stranger's resident
        assert await residents.may_act_for(uow, LI, zhou)
        assert await residents.may_act_for(uow, DESK, zhou)
        assert not await residents.may_act_for(uow, DAD, zhou)
        assert not await residents.may_act_for(uow, WANG, zhou)


async def test_another_helpers_resident_is_not_found(orders_pool: asyncpg.Pool) -> None:
    zhou = await register_zhou(orders_pool)
    async with unit_of_work(orders_pool) as uow:
        with pytest.raises(NotFound):
            await residents.resident(uow, WANG, zhou)
        with pytest.raises(NotFound):
            await residents.change_resident(uow, WANG, zhou, {"phone": None})
        assert await residents.residents_of(uow, WANG) == []
        changed = await residents.change_resident(uow, LI, zhou, {"pay_on_delivery": False})
        assert (changed.pay_on_delivery, changed.call_before_delivery) == (False, True)
        assert not (await resolve_orderer(uow, LI, zhou)).pay_on_delivery_default


def line(no: int, product_id: str, choice: SubstitutionChoice) -> OrderLine:
    return OrderLine(no, product_id, "shop", product_id, product_id, "piece", 1, 1, 100, 100, choice)


def an_order(placed_for: str, lines: list[OrderLine]) -> Order:
    return Order.place(
        id=str(uuid.uuid4()),
        store_id="shop-1",
        placed_by=LI.subject,
        placed_for=placed_for,
        placed_by_role="helper",
        fulfilment=Fulfilment(FulfilmentMode.DELIVERY, address=DeliveryAddress(**ADDRESS)),
        lines=lines,
        at=datetime.now(UTC),
    )


async def remember(pool: asyncpg.Pool, placed_for: str, lines: list[OrderLine]) -> None:
    """Place an order whose request gave these lines' choices: placing remembers them."""
    placement = Placement(an_order(placed_for, lines), remember={ln.product_id: ln.substitution for ln in lines})
    await run(pool, lambda uow: uow.placing.save(placement))


async def test_substitution_choices_are_remembered_per_person_and_product(orders_pool: asyncpg.Pool) -> None:
    swap = SubstitutionChoice(SubstitutionMode.PRODUCT, "soy-milk")
    await remember(orders_pool, "res-a", [line(1, "milk", swap), line(2, "tofu", SubstitutionChoice())])
    await remember(orders_pool, "res-b", [line(1, "milk", SubstitutionChoice(SubstitutionMode.BEST_MATCH))])
    async with unit_of_work(orders_pool) as uow:
        assert await preferences.remembered(uow, "res-a", ["milk", "tofu", "eggs"]) == {
            "milk": swap,
            "tofu": SubstitutionChoice(),
        }
    # the latest choice wins, and another person's choice is theirs alone
    await remember(orders_pool, "res-a", [line(1, "milk", SubstitutionChoice(SubstitutionMode.NONE))])
    async with unit_of_work(orders_pool) as uow:
        assert (await preferences.remembered(uow, "res-a", ["milk"]))["milk"].mode is SubstitutionMode.NONE
        assert (await preferences.remembered(uow, "res-b", ["milk"]))["milk"].mode is SubstitutionMode.BEST_MATCH
        assert await preferences.remembered(uow, "res-c", ["milk"]) == {}
        assert await preferences.remembered(uow, "res-a", []) == {}


async def add_order(pool: asyncpg.Pool, status: OrderStatus, *, rider: bool = True) -> str:
    order = an_order("res-a", [line(1, "milk", SubstitutionChoice())])
    await run(pool, lambda uow: uow.placing.save(Placement(order)))
    await pool.execute(
        "UPDATE orders SET status = $2, delivery = $3::jsonb WHERE id = $1",
        order.id,
        status.value,
        {"rider": {"rider_id": "rider-9", "name": "Xiao Ma"}} if rider else {},
    )
    return order.id


async def rate(pool: asyncpg.Pool, principal: Principal, order_id: str, **stars: int | None) -> Rating:
    async with unit_of_work(pool) as uow:
        return await ratings.rate(
            uow,
            principal,
            order_id,
            shop_stars=stars.get("shop"),
            rider_stars=stars.get("rider"),
            comment="fresh fish",
        )


async def test_an_order_is_rated_once_after_delivery_and_the_rating_is_published(orders_pool: asyncpg.Pool) -> None:
    order_id = await add_order(orders_pool, OrderStatus.DELIVERED)
    rating = await rate(orders_pool, LI, order_id, shop=5, rider=4)
    assert (rating.store_id, rating.placed_for, rating.rider_id) == ("shop-1", "res-a", "rider-9")
    with pytest.raises(RatingRefused, match="rated already"):
        await rate(orders_pool, LI, order_id, shop=1)
    async with orders_pool.acquire() as conn:
        stored = await conn.fetch("SELECT shop_stars, rider_id, rider_stars FROM order_ratings")
        published = await conn.fetch("SELECT envelope FROM outbox WHERE event_type = 'OrderRated'")
    assert [tuple(r) for r in stored] == [(5, "rider-9", 4)]
    assert len(published) == 1
    assert published[0]["envelope"]["payload"]["by"] == LI.subject


async def test_an_order_not_handed_over_or_not_yours_cannot_be_rated(orders_pool: asyncpg.Pool) -> None:
    on_the_way = await add_order(orders_pool, OrderStatus.OUT_FOR_DELIVERY)
    with pytest.raises(RatingRefused, match="once it is delivered or collected"):
        await rate(orders_pool, LI, on_the_way, shop=5)
    collected = await add_order(orders_pool, OrderStatus.COLLECTED, rider=False)
    with pytest.raises(NotFound):
        await rate(orders_pool, WANG, collected, shop=5)
    with pytest.raises(Forbidden):
        await rate(orders_pool, DESK, collected, shop=5)
    with pytest.raises(RatingInvalid, match="no rider carried"):
        await rate(orders_pool, LI, collected, shop=5, rider=5)
    assert (await rate(orders_pool, LI, collected, shop=3)).rider_id is None
