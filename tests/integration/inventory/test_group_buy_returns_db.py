"""Bags uncollected at the end of a group buy's pickup window come back to the shop: on real PostgreSQL,
what the consolidated order still holds is released, what had left the shop is on hand again, once."""

from __future__ import annotations

import asyncpg

from services.inventory.service_layer import group_buys
from shared.events.contracts import GroupBuyBagsReturned
from tests.integration.inventory.support import check_books, run, stock
from tests.integration.inventory.test_group_buys_db import accepted, closed


def returned(deal_id: str, numbers: list[int]) -> GroupBuyBagsReturned:
    bags = [b for b in closed(deal_id).bags if b.number in numbers]
    return GroupBuyBagsReturned(deal_id=deal_id, store_id="shop", order_id=deal_id, bags=bags)


async def test_a_returned_bag_still_held_is_released_and_one_handed_over_is_back_on_hand(inv: asyncpg.Pool) -> None:
    await run(inv, lambda uow: group_buys.on_group_buy_accepted(uow, accepted("gb-r", {"water": 30, "juice": 10})))
    await run(inv, lambda uow: group_buys.on_group_buy_closed(uow, closed("gb-r")))
    assert await stock(inv, "water") == (50, 7)  # on hand, reserved: bag 1 has 3 water + 2 juice, bag 2 has 4 water
    assert await stock(inv, "juice") == (20, 2)
    # Bag 1 never left the shop (the leader had not collected the order yet): its goods are simply free again.
    await run(inv, lambda uow: group_buys.on_group_buy_bags_returned(uow, returned("gb-r", [1])))
    await run(inv, lambda uow: group_buys.on_group_buy_bags_returned(uow, returned("gb-r", [1])))  # heard twice
    assert await stock(inv, "water") == (50, 4)
    assert await stock(inv, "juice") == (20, 0)

    async def hand_over(uow: object) -> None:  # the leader takes the rest of the order from the counter
        await uow.stock.lock(["water"])  # type: ignore[attr-defined]
        await uow.stock.commit_line("gb-r", 1, "handed over", "clerk")  # type: ignore[attr-defined]

    await run(inv, hand_over)
    assert await stock(inv, "water") == (46, 0)
    # Bag 2 went to the pickup point and came back uncollected: its 4 water are on the shelf again.
    await run(inv, lambda uow: group_buys.on_group_buy_bags_returned(uow, returned("gb-r", [2])))
    assert await stock(inv, "water") == (50, 0)
    marked = await inv.fetch("SELECT number FROM deal_bags WHERE deal_id = 'gb-r' AND returned_at IS NOT NULL")
    assert sorted(r["number"] for r in marked) == [1, 2]
    await check_books(inv)
