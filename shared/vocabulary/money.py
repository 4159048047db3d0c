"""Money is integer fen (0.01 CNY) everywhere: no floats ever touch a price."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

Fen = Annotated[int, Field(ge=0, description="an amount in fen (0.01 CNY)")]


def divide_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero, as a shop's till does."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def format_yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan}.{cents:02d}"


def due_at_door(final_goods_fen: int, delivery_fee_fen: int, platform_fee_fen: int) -> int:
    """What a pay-on-delivery shopper hands the rider: the packed goods plus the fees (orders and dispatch agree)."""
    if min(final_goods_fen, delivery_fee_fen, platform_fee_fen) < 0:
        raise ValueError("amounts due at the door are never negative")
    return final_goods_fen + delivery_fee_fen + platform_fee_fen
