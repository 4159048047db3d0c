"""Stock units: goods are counted in pieces or weighed in grams.

An order always asks for pieces ("2 fish"); a weighed product declares how many grams one
piece is expected to weigh, so stock can be reserved in grams before the stall weighs it.
"""

from __future__ import annotations

from enum import StrEnum

from shared.vocabulary.money import divide_half_up


class StockUnit(StrEnum):
    PIECE = "piece"
    GRAM = "g"


def stock_quantity(unit: StockUnit, pieces: int, grams_per_piece: int | None) -> int:
    """How much stock, in the product's own unit, an order for `pieces` reserves."""
    if pieces <= 0:
        raise ValueError("quantity must be at least 1 piece")
    if unit is StockUnit.PIECE:
        return pieces
    if not grams_per_piece or grams_per_piece <= 0:
        raise ValueError("a weighed product needs a positive estimated weight per piece")
    return pieces * grams_per_piece


def line_price(unit: StockUnit, price_fen: int, quantity_in_unit: int) -> int:
    """The price of a line: `price_fen` is per piece, or per kilogram for weighed goods."""
    if unit is StockUnit.PIECE:
        return price_fen * quantity_in_unit
    return divide_half_up(price_fen * quantity_in_unit, 1000)
