"""Dispatch's use cases over in-memory repositories: accepting an offer, and a step with a wrong code."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.dispatch.domain.delivery import Delivery, DeliveryStatus
from services.dispatch.domain.offers import Offer, OfferStatus
from services.dispatch.domain.riders import Rider, RiderState, Vehicle
from services.dispatch.service_layer import assigning, delivering
from services.dispatch.service_layer.assigning import NO_RIDER
from shared.deadlines import Deadline
from shared.errors import Conflict, NotFound, WrongCode
from shared.vocabulary.fulfilment import FulfilmentMode
from tests.fakes import FakeClock
from tests.unit.dispatch.conftest import FakeDispatchUnitOfWork


async def an_open_order_offered_to(uow: FakeDispatchUnitOfWork, clock: FakeClock, *riders: str) -> list[Offer]:
    now = clock.now()
    await uow.deliveries.add(
        Delivery("o1", "shop", FulfilmentMode.DELIVERY, "s1", "s1", status=DeliveryStatus.OPEN, opened_at=now)
    )
    await uow.deadlines.schedule(Deadline(NO_RIDER, "o1", now + timedelta(minutes=10)))
    offers = []
    for i, rider_id in enumerate(riders):
        uow.riders.rows[rider_id] = Rider(rider_id, rider_id, Vehicle.E_BIKE, 1, RiderState.AVAILABLE)  # type: ignore[attr-defined]
        offer = Offer(
            f"00000000-0000-0000-0000-00000000000{i}", "o1", rider_id, OfferStatus.PENDING,
            now + timedelta(seconds=30), now + timedelta(minutes=5), now + timedelta(minutes=20), now,
        )  # fmt: skip
        await uow.offers.add(offer)
        offers.append(offer)
    return offers


async def test_accepting_an_offer_assigns_the_rider_and_withdraws_the_rest(
    uow: FakeDispatchUnitOfWork, clock: FakeClock
) -> None:
    mine, other = await an_open_order_offered_to(uow, clock, "r1", "r2")
    async with uow:
        delivery = await assigning.accept_offer(uow, "r1", mine.id)
    assert (delivery.status, delivery.rider_id) == (DeliveryStatus.ASSIGNED, "r1")
    assert uow.types() == ["RiderAssigned"]
    assert uow.events[0].payload.assigned_by == "dispatch"
    assert (await uow.offers.get(mine.id)).status is OfferStatus.ACCEPTED  # type: ignore[union-attr]
    assert (await uow.offers.get(other.id)).status is OfferStatus.WITHDRAWN  # type: ignore[union-attr]
    assert (NO_RIDER, "o1") not in uow.deadlines.pending  # type: ignore[attr-defined]
    assert (await uow.riders.get("r1")).state is RiderState.BUSY  # type: ignore[union-attr]  # capacity 1
    assert [n.kind for n in uow.live][:2] == ["RiderAssigned", "RiderAssigned"]  # board and orderer


async def test_an_offer_is_answered_only_by_its_rider_and_in_time(
    uow: FakeDispatchUnitOfWork, clock: FakeClock
) -> None:
    [offer] = await an_open_order_offered_to(uow, clock, "r1")
    with pytest.raises(NotFound, match="no such offer"):
        async with uow:
            await assigning.accept_offer(uow, "r2", offer.id)
    clock.advance(30)
    with pytest.raises(Conflict, match="lapsed"):
        async with uow:
            await assigning.accept_offer(uow, "r1", offer.id)
    assert uow.events == []
    assert (await uow.deliveries.get("o1")).status is DeliveryStatus.OPEN  # type: ignore[union-attr]


async def test_a_pickup_with_the_wrong_handover_code_changes_nothing(
    uow: FakeDispatchUnitOfWork, clock: FakeClock
) -> None:
    d = Delivery(
        "o1", "shop", FulfilmentMode.DELIVERY, "s1", "s1", status=DeliveryStatus.AT_SHOP, rider_id="r1",
        packed_at=clock.now(), handover_code="4321",
    )  # fmt: skip
    await uow.deliveries.add(d)
    with pytest.raises(WrongCode, match="handover code"):
        async with uow:
            await delivering.picked_up(uow, "o1", "r1", "0000")
    assert uow.events == []
    assert (await uow.deliveries.get("o1")).status is DeliveryStatus.AT_SHOP  # type: ignore[union-attr]
    async with uow:
        await delivering.picked_up(uow, "o1", "r1", " 4321 ")
    assert uow.types() == ["DeliveryPickedUp"]
    assert (await uow.deliveries.get("o1")).status is DeliveryStatus.PICKED_UP  # type: ignore[union-attr]


async def test_a_stale_save_is_refused(uow: FakeDispatchUnitOfWork, clock: FakeClock) -> None:
    """Two writers loaded the same offer: the second save would overwrite the first's answer."""
    [offer] = await an_open_order_offered_to(uow, clock, "r1")
    round_sees = await uow.offers.get(offer.id)
    async with uow:
        await assigning.accept_offer(uow, "r1", offer.id)
    assert round_sees is not None
    round_sees.withdraw(clock.now(), "silent")
    with pytest.raises(Conflict, match="try again"):
        await uow.offers.save(round_sees)
    assert (await uow.offers.get(offer.id)).status is OfferStatus.ACCEPTED  # type: ignore[union-attr]
