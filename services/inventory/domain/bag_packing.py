"""Packing a closed deal's consolidated order one labelled bag per participant, and what each bag comes to.

The counter picks the consolidated order as one order but packs it bag by bag: for each line of a
participant's bag it says filled (for weighed goods, with the grams the scale said) or not filled.
A filled weighed line is priced at its actual weight, exactly as an order's weighed line is, when
it is within the shop's tolerance; above it an order asks the shopper and, with no answer, charges
the estimate — a bag has nobody at the counter to ask, so it is charged the estimate. A line not
filled is refunded at the price the participant paid for it. A deal's share records no
substitution preference, and the shop's rule for that (`none`) is that every substitute needs the
shopper's yes first, so the counter cannot put a substitute in a bag: the line is not filled.
Nothing here reads or writes a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from services.inventory.domain.group_buys import HeldLine
from services.inventory.domain.picking import check_weight
from shared.errors import Conflict, Invalid
from shared.events.contracts import LineOutcome
from shared.vocabulary.units import StockUnit, line_price

Filled = Literal["filled", "not_filled"]


@dataclass(frozen=True)
class BagLine:
    """One line of a participant's bag as the packing list has it."""

    line_no: int
    product_id: str
    unit: StockUnit
    pieces: int
    estimate: int  # in the product's unit: pieces, or grams estimated
    unit_price_fen: int  # the group price: per piece, or per kg for weighed goods
    paid_fen: int  # what the participant paid for it at joining


@dataclass(frozen=True)
class LinePacked:
    """What the counter says about one line of the bag."""

    line_no: int
    filled: Filled
    weight_g: int | None = None


@dataclass(frozen=True)
class PackedItem:
    line_no: int
    product_id: str
    outcome: LineOutcome
    pieces: int
    quantity: int  # in the bag, in the product's unit; 0 when not filled
    estimated_fen: int
    price_fen: int
    over_tolerance: bool = False  # weighed over the shop's tolerance: charged the estimate

    def as_dict(self) -> dict[str, object]:
        return {
            "line_no": self.line_no,
            "product_id": self.product_id,
            "outcome": self.outcome.value,
            "pieces": self.pieces,
            "quantity": self.quantity,
            "estimated_fen": self.estimated_fen,
            "price_fen": self.price_fen,
            "over_tolerance": self.over_tolerance,
        }


@dataclass(frozen=True)
class PackedBag:
    number: int
    items: list[PackedItem]
    weight_g: int

    @property
    def estimated_fen(self) -> int:
        return sum(i.estimated_fen for i in self.items)

    @property
    def goods_fen(self) -> int:
        """What the bag comes to, and what its share is settled to."""
        return sum(i.price_fen for i in self.items)

    @property
    def refund_fen(self) -> int:
        return self.estimated_fen - self.goods_fen


def bag_lines(items: Sequence[Mapping[str, Any]], held: Mapping[int, HeldLine]) -> list[BagLine]:
    """The packing list's items (as stored from `GroupBuyClosed`) as lines to pack, priced as the deal holds them."""
    lines = []
    for i in items:
        line = held[int(i["line_no"])]
        pieces = int(i["quantity"])
        lines.append(
            BagLine(
                line_no=line.line_no,
                product_id=line.product_id,
                unit=StockUnit(line.unit),
                pieces=pieces,
                estimate=int(i.get("stock_quantity") or pieces),
                unit_price_fen=line.group_price_fen,
                paid_fen=int(i["price_fen"]),
            )
        )
    return lines


def pack(number: int, lines: Sequence[BagLine], told: Sequence[LinePacked], tolerance_pct: float) -> PackedBag:
    """Price every line of bag `number` as packed; each line is told once, weighed goods with their grams."""
    by_line = {ln.line_no: ln for ln in lines}
    seen = [t.line_no for t in told]
    if len(set(seen)) != len(seen):
        raise Invalid(f"bag {number}: each line is listed once")
    unknown = sorted(set(seen) - set(by_line))
    if unknown:
        raise Invalid(f"bag {number} has no line(s) {unknown}; it holds lines {sorted(by_line)}")
    missing = sorted(set(by_line) - set(seen))
    if missing:
        raise Invalid(f"bag {number}: say for every line whether it was filled; missing line(s) {missing}")
    items = []
    weight = 0
    for t in sorted(told, key=lambda t: t.line_no):
        line = by_line[t.line_no]
        if t.filled == "not_filled":
            if t.weight_g is not None:
                raise Invalid(f"bag {number}, line {t.line_no}: a line not filled has no weight")
            items.append(
                PackedItem(line.line_no, line.product_id, LineOutcome.OUT_OF_STOCK, line.pieces, 0, line.paid_fen, 0)
            )
            continue
        if line.unit is StockUnit.GRAM:
            if t.weight_g is None or t.weight_g <= 0:
                raise Invalid(
                    f"bag {number}, line {t.line_no} is sold by weight: send weight_g, the grams the scale said"
                )
            check = check_weight(line.estimate, t.weight_g, tolerance_pct)
            price = line.paid_fen if check.needs_approval else line_price(line.unit, line.unit_price_fen, t.weight_g)
            items.append(
                PackedItem(
                    line.line_no,
                    line.product_id,
                    LineOutcome.PICKED,
                    line.pieces,
                    t.weight_g,
                    line.paid_fen,
                    price,
                    over_tolerance=check.needs_approval,
                )
            )
            weight += t.weight_g
            continue
        if t.weight_g is not None:
            raise Invalid(f"bag {number}, line {t.line_no} is counted in pieces; send no weight_g")
        items.append(
            PackedItem(
                line.line_no,
                line.product_id,
                LineOutcome.PICKED,
                line.pieces,
                line.estimate,
                line.paid_fen,
                line.paid_fen,
            )
        )
    return PackedBag(number, items, weight)


def check_packable(number: int, packed_at: object, returned_at: object, status: str) -> None:
    """A bag is packed once, only while the consolidated order is being worked, and never after it went back."""
    if status != "ordered":
        raise Conflict(f"the deal's stock is {status}: bags are packed only once the cutoff closed the deal")
    if packed_at is not None:
        raise Conflict(f"bag {number} was packed already; a packed bag is not packed again")
    if returned_at is not None:
        raise Conflict(f"bag {number} went back to the shop uncollected")


def line_totals(bags: Sequence[PackedBag]) -> dict[int, tuple[int, int]]:
    """Per line of the consolidated order: what every bag put in it (in its unit) and what that came to."""
    totals: dict[int, tuple[int, int]] = {}
    for bag in bags:
        for item in bag.items:
            quantity, price = totals.get(item.line_no, (0, 0))
            totals[item.line_no] = (quantity + item.quantity, price + item.price_fen)
    return totals


@dataclass(frozen=True)
class LabelItem:
    line_no: int
    name_zh: str
    name_en: str
    pieces: int
    unit: StockUnit
    quantity: int | None  # in the bag once packed (grams, if weighed); None before
    filled: bool | None  # None before packing


@dataclass(frozen=True)
class BagLabel:
    """What the counter prints on a participant's bag: whose it is, their number of how many, what is in it."""

    number: int
    of: int
    name: str  # the participant's, or the resident's when a helper joined for them
    helper: str | None  # the helper who joined for the resident, to hand it to them too
    items: list[LabelItem]
    packed: bool
    goods_fen: int  # as packed, or as paid before packing
    note: str | None


def labels_of(
    rows: Sequence[Mapping[str, Any]],
    held: Mapping[int, HeldLine],
    names: Mapping[int, tuple[str, str]],
    note: str | None,
) -> list[BagLabel]:
    """One label per bag of the packing list, by number; a packed bag shows what really went in."""
    labels = []
    for row in sorted(rows, key=lambda r: int(r["number"])):
        packed = {int(i["line_no"]): i for i in row.get("packed") or []}
        items = []
        for i in row["items"]:
            line_no = int(i["line_no"])
            done = packed.get(line_no)
            zh, en = names.get(line_no, (str(i["product_id"]), str(i["product_id"])))
            items.append(
                LabelItem(
                    line_no=line_no,
                    name_zh=zh,
                    name_en=en,
                    pieces=int(i["quantity"]),
                    unit=StockUnit(held[line_no].unit) if line_no in held else StockUnit.PIECE,
                    quantity=int(done["quantity"]) if done else None,
                    filled=(int(done["quantity"]) > 0) if done else None,
                )
            )
        labels.append(
            BagLabel(
                number=int(row["number"]),
                of=len(rows),
                name=str(row["name"]),
                helper=str(row["joined_by"]) if row["joined_by"] != row["holder"] else None,
                items=items,
                packed=bool(packed),
                goods_fen=int(row["packed_fen"] if row.get("packed_fen") is not None else row["goods_fen"]),
                note=note,
            )
        )
    return labels
