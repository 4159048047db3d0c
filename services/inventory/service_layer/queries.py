"""What staff look at: the queue of parts, a pick list, a product's history. Reads only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.inventory.domain.fulfilment import NotFound
from services.inventory.domain.slots import is_scheduled
from services.inventory.service_layer.policy import now
from services.inventory.service_layer.unit_of_work import UnitOfWork


async def _names(uow: UnitOfWork, product_ids: list[str]) -> dict[str, Any]:
    rows = await uow.conn.fetch(
        "SELECT id, name_zh, name_en, category, barcode FROM products WHERE id = any($1::text[])", product_ids
    )
    return {r["id"]: r for r in rows}


def _line_view(line: Any, product: Any) -> dict[str, Any]:
    return {
        "line_no": line["line_no"],
        "product_id": line["product_id"],
        "location_id": line["location_id"],
        "name_zh": product["name_zh"] if product else None,
        "name_en": product["name_en"] if product else None,
        "category": product["category"] if product else None,
        "barcode": product["barcode"] if product else None,
        "pieces": line["ordered_pieces"],
        "quantity": line["quantity"],
        "unit": line["unit"],
        "estimated_fen": line["estimated_fen"],
        "substitution": line["substitution"],
        "state": line["state"],
        "picked_quantity": line["picked_quantity"],
        "pending_quantity": line["pending_quantity"],
        "charged_fen": line["charged_fen"],
        "substitute": line["substitute"],
    }


def _slot(row: Any) -> dict[str, str] | None:
    if row["slot_start"] is None:
        return None
    return {"start": row["slot_start"].isoformat(), "end": row["slot_end"].isoformat()}


async def _parts_at(uow: UnitOfWork, location: Any) -> list[Any]:
    ids = [location["id"]]
    if location["kind"] == "market":
        ids = [s["id"] for s in await uow.inventory.stalls_of(location["id"])]
    return await uow.fulfilment.queue(ids)


async def _part_view(uow: UnitOfWork, part: Any) -> dict[str, Any]:
    lines = await uow.fulfilment.lines(part["order_id"], part["location_id"])
    names = await _names(uow, [ln["product_id"] for ln in lines])
    return {
        "order_id": part["order_id"],
        "store_id": part["store_id"],
        "location_id": part["location_id"],
        "status": part["status"],
        "order_status": part["order_status"],
        "fulfilment_mode": part["fulfilment_mode"],
        "flags": part["flags"],
        "note": part["note"],
        "slot": _slot(part),
        "release_at": part["release_at"].isoformat() if part["release_at"] else None,
        # A rider proves they took the bag by entering the code the counter tells them, so
        # staff see it for delivery and locker orders. For pickup the shopper's code is the
        # proof of who collects: staff must ask for it, never read it.
        "handover_code": part["handover_code"]
        if part["order_status"] == "packed" and part["fulfilment_mode"] in ("delivery", "locker")
        else None,
        "accept_deadline": part["accept_deadline"].isoformat(),
        "lines": [_line_view(ln, names.get(ln["product_id"])) for ln in lines],
    }


async def queue(uow: UnitOfWork, location: Any, at: datetime | None = None) -> list[dict[str, Any]]:
    """Parts waiting, accepted, being picked or packed at a shop or stall (a market: all its stalls).

    Slot orders not released yet are left out (see `scheduled`): nobody should start on a bag
    due tomorrow morning, and their accept countdown has not started.
    """
    at = at or now()
    result = []
    for part in await _parts_at(uow, location):
        if is_scheduled(part["release_at"], at):
            continue
        view = await _part_view(uow, part)
        view["seconds_left"] = (
            max(0, int((part["accept_deadline"] - at).total_seconds())) if part["status"] == "waiting" else None
        )
        result.append(view)
    return result


async def scheduled(uow: UnitOfWork, location: Any, at: datetime | None = None) -> list[dict[str, Any]]:
    """Slot orders held here that enter the live queue later, soonest release first."""
    at = at or now()
    result = []
    for part in await _parts_at(uow, location):
        if not is_scheduled(part["release_at"], at):
            continue
        view = await _part_view(uow, part)
        view["seconds_to_release"] = int((part["release_at"] - at).total_seconds())
        result.append(view)
    result.sort(key=lambda v: (v["release_at"], v["order_id"], v["location_id"]))
    return result


async def pick_list(uow: UnitOfWork, location_id: str, order_id: str) -> dict[str, Any]:
    """The order's lines at this shop or stall (at the market: every stall), by stall, then by category."""
    order = await uow.fulfilment.order(order_id)
    if order is None:
        raise NotFound(f"no order {order_id} at {location_id}")
    lines = [ln for ln in await uow.fulfilment.lines(order_id) if location_id in (order["store_id"], ln["location_id"])]
    if not lines:
        raise NotFound(f"no order {order_id} at {location_id}")
    names = await _names(uow, [ln["product_id"] for ln in lines])
    stalls: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for ln in lines:
        view = _line_view(ln, names.get(ln["product_id"]))
        stalls.setdefault(ln["location_id"], {}).setdefault(view["category"] or "", []).append(view)
    return {
        "order_id": order_id,
        "store_id": order["store_id"],
        "status": order["status"],
        "fulfilment_mode": order["fulfilment_mode"],
        "flags": order["flags"],
        "note": order["note"],
        "slot": _slot(order),
        "release_at": order["release_at"].isoformat() if order["release_at"] else None,
        "stalls": [
            {
                "location_id": loc,
                "categories": [{"category": cat, "lines": views} for cat, views in sorted(cats.items())],
            }
            for loc, cats in sorted(stalls.items())
        ],
        "history": await uow.fulfilment.history(order_id),
    }


async def product_history(uow: UnitOfWork, product_id: str) -> list[dict[str, Any]]:
    """Every catalog change and every stock movement of a product, oldest first, with who and when."""
    entries = [
        {"at": c["at"], "actor": c["actor"], "kind": "catalog", "change": c["change"], "details": c["details"]}
        for c in await uow.inventory.product_changes(product_id)
    ]
    entries += [
        {
            "at": m["at"],
            "actor": m["actor"],
            "kind": "stock",
            "change": m["reason"],
            "details": {
                "on_hand_delta": m["on_hand_delta"],
                "reserved_delta": m["reserved_delta"],
                "order_id": m["order_id"],
            },
        }
        for m in await uow.stock.movements(product_id)
    ]
    entries.sort(key=lambda e: e["at"])
    return [{**e, "at": e["at"].isoformat()} for e in entries]
