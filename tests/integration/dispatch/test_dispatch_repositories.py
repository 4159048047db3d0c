"""Deliveries and offers loaded and saved many at once, with the version rule, against real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.dispatch.adapters.deliveries import Stale
from services.dispatch.domain.delivery import DeliveryStatus
from services.dispatch.service_layer import intake
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from tests.integration.dispatch.conftest import Dispatch
from tests.integration.dispatch.helpers import accepted, placed


async def test_many_deliveries_are_loaded_and_saved_in_one_statement_each(dispatch: Dispatch) -> None:
    d = dispatch
    ids = [f"o{i}" for i in range(5)]
    for order_id in ids:
        await d.run(lambda uow, o=order_id: intake.on_order_placed(uow, placed(o)))
        await d.run(lambda uow, o=order_id: intake.on_order_accepted(uow, accepted(o)))
    eta = d.clock.now() + timedelta(minutes=20)

    async def follow(uow: DispatchUnitOfWork) -> list[int]:
        found = await uow.deliveries.get_many([*reversed(ids), "unknown"])
        assert [x.order_id for x in found] == list(reversed(ids))  # in the order asked for
        assert {x.place.name_en for x in found} == {"Shop"}  # with where the bag is fetched
        for x in found:
            x.follow_eta(eta, late_risk=x.order_id == "o3")
        await uow.deliveries.save_many(found)
        return [x.version for x in found]

    assert await d.run(follow) == [2] * 5  # placed (0), opened (1), followed (2)
    rows = await d.pool.fetch("SELECT order_id, eta_door_at, late_risk, version FROM deliveries ORDER BY order_id")
    assert [(r["eta_door_at"], r["late_risk"], r["version"]) for r in rows] == [
        (eta, r["order_id"] == "o3", 2) for r in rows
    ]


async def test_a_stale_save_among_many_saves_none(dispatch: Dispatch) -> None:
    d = dispatch
    for order_id in ("o1", "o2"):
        await d.run(lambda uow, o=order_id: intake.on_order_placed(uow, placed(o)))
    earlier = await d.run(lambda uow: uow.deliveries.get_many(["o1", "o2"]))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o2")))  # another writer moves o2 on

    async def stale(uow: DispatchUnitOfWork) -> None:
        for x in earlier:
            x.drop(d.clock.now())
        await uow.deliveries.save_many(earlier)

    with pytest.raises(Stale, match="delivery o2 changed"):
        await d.run(stale)
    assert {r["order_id"]: r["status"] for r in await d.pool.fetch("SELECT order_id, status FROM deliveries")} == {
        "o1": DeliveryStatus.PENDING,
        "o2": DeliveryStatus.OPEN,
    }
