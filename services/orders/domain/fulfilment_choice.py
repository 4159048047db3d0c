"""How the shopper chose to receive an order: the mode, and the door, slot or locker site it needs.

Stored on the order as JSON (`as_dict`) and shown as it is stored, so the dict keeps the same
keys the checkout request had: a delivery's address (and slot, when one was chosen), a locker's
site and its optional address, and for an order switched to pickup the choice it replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.events.contracts import DeliveryAddress
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.geo import Point


@dataclass(frozen=True)
class Fulfilment:
    mode: FulfilmentMode = FulfilmentMode.DELIVERY
    address: DeliveryAddress | None = None  # the door, or a locker order's note of it
    slot: Mapping[str, str] | None = None  # {"start", "end"} as ISO strings: a chosen delivery window
    site_id: str | None = None  # a locker site, as dispatch names it
    switched_from: Fulfilment | None = None  # what a pickup order was before the shopper took the pickup offer

    @property
    def dispatched(self) -> bool:
        """A rider carries it, so dispatch follows it."""
        return self.mode.dispatched

    @property
    def door(self) -> Point | None:
        if self.address is None:
            return None
        return Point(self.address.lat, self.address.lon)

    def with_address(self, address: DeliveryAddress) -> Fulfilment:
        return replace(self, address=address)

    def with_slot(self, slot: Mapping[str, str]) -> Fulfilment:
        return replace(self, slot=dict(slot))

    def switched_to_pickup(self) -> Fulfilment:
        return Fulfilment(FulfilmentMode.PICKUP, switched_from=self)

    def kept_for_reorder(self) -> Fulfilment:
        """What ordering again keeps: the mode, the door and the site (not the slot: its time has passed)."""
        return Fulfilment(
            self.mode,
            address=self.address if self.mode is not FulfilmentMode.PICKUP else None,
            site_id=self.site_id if self.mode is FulfilmentMode.LOCKER else None,
        )

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mode": self.mode.value}
        if self.mode is FulfilmentMode.LOCKER:
            data["site_id"] = self.site_id
        if self.mode is not FulfilmentMode.PICKUP:
            data["address"] = self.address.model_dump(mode="json") if self.address is not None else None
        if self.slot is not None:
            data["slot"] = dict(self.slot)
        if self.switched_from is not None:
            data["switched_from"] = self.switched_from.as_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Fulfilment:
        data = data or {}
        switched = data.get("switched_from")
        address = data.get("address")
        return cls(
            mode=FulfilmentMode(data.get("mode") or FulfilmentMode.DELIVERY.value),
            address=DeliveryAddress.model_validate(address) if address else None,
            slot=data.get("slot"),
            site_id=data.get("site_id"),
            switched_from=cls.from_dict(switched) if switched else None,
        )
