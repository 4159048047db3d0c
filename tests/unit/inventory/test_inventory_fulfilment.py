"""Shop-side rules without a database: parts, substitution preferences, weights, amounts, the handover code."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time

import pytest

from services.inventory.domain.fulfilment import (
    Outcome,
    Part,
    PartStatus,
    accept_key,
    acceptance,
    all_packed,
    amounts,
    code_matches,
    new_handover_code,
    parse_accept_key,
    parts_of,
)
from services.inventory.domain.picking import (
    LineState,
    check_weight,
    first_unresolved,
    picked_quantity,
    substitute_needs_approval,
)
from services.inventory.domain.shop_hours import refusal
from shared.errors import Invalid
from shared.events.contracts import SubstitutionMode
from shared.settings import Settings
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.opening_hours import Window
from shared.vocabulary.units import StockUnit
from tests.unit.inventory.fakes import location

TIMEZONE = Settings(service="inventory").timezone
W, A, P, K, R = PartStatus.WAITING, PartStatus.ACCEPTED, PartStatus.PICKING, PartStatus.PACKED, PartStatus.REJECTED


def parts(*statuses: PartStatus) -> list[Part]:
    return [Part("o1", f"stall-{i}", s, datetime(2026, 1, 5, tzinfo=UTC)) for i, s in enumerate(statuses)]


def test_lines_are_grouped_into_one_part_per_location_in_order() -> None:
    assert parts_of([(1, "fish"), (2, "veg"), (3, "fish")]) == {"fish": [1, 3], "veg": [2]}


@pytest.mark.parametrize(
    ("statuses", "outcome"),
    [
        ((W, A), Outcome.WAITING),
        ((A, A), Outcome.ACCEPTED),
        ((R, A), Outcome.ACCEPTED),  # the rest goes on without the stall that refused
        ((R, W), Outcome.WAITING),
        ((R, R), Outcome.NOTHING_LEFT),
    ],
)
def test_the_order_is_accepted_when_every_remaining_part_is(statuses: tuple[PartStatus, ...], outcome: Outcome) -> None:
    assert acceptance(parts(*statuses)) is outcome


def test_the_order_is_packed_when_every_remaining_part_is() -> None:
    assert all_packed(parts(K, R, K))
    assert not all_packed(parts(K, P))
    assert not all_packed(parts(R, R))


def test_accept_deadline_keys_name_the_part_and_old_keys_name_the_order() -> None:
    assert parse_accept_key(accept_key("9f1c-uuid", "xiaoshi-fish")) == ("9f1c-uuid", "xiaoshi-fish")
    assert parse_accept_key("9f1c-uuid") == ("9f1c-uuid", None)


@pytest.mark.parametrize(
    ("mode", "named", "offered", "needs"),
    [
        (SubstitutionMode.BEST_MATCH, None, "cola", False),
        (SubstitutionMode.PRODUCT, "cola", "cola", False),
        (SubstitutionMode.PRODUCT, "cola", "sprite", True),
        (SubstitutionMode.NONE, None, "cola", True),
    ],
)
def test_substitutes_follow_the_shoppers_preference(
    mode: SubstitutionMode, named: str | None, offered: str, needs: bool
) -> None:
    assert substitute_needs_approval(mode, named, offered) is needs


def test_weight_within_tolerance_is_just_charged_and_over_it_needs_approval() -> None:
    assert check_weight(600, 660, 10).needs_approval is False  # exactly 10 % over
    heavy = check_weight(600, 661, 10)
    assert heavy.needs_approval
    assert heavy.over_pct == pytest.approx(10.17, abs=0.01)
    assert check_weight(600, 500, 10) == check_weight(600, 500, 10)
    assert not check_weight(600, 500, 10).needs_approval
    with pytest.raises(Invalid):
        check_weight(600, 0, 10)


def test_weighed_lines_need_their_weight_and_counted_lines_refuse_one() -> None:
    assert picked_quantity(StockUnit.GRAM, 600, 640, 1) == 640
    assert picked_quantity(StockUnit.PIECE, 3, None, 2) == 3
    with pytest.raises(Invalid, match="weight_g"):
        picked_quantity(StockUnit.GRAM, 600, None, 1)
    with pytest.raises(Invalid, match="pieces"):
        picked_quantity(StockUnit.PIECE, 3, 500, 2)


def test_a_part_is_packable_only_when_every_line_is_resolved() -> None:
    assert first_unresolved([(1, LineState.PICKED), (2, LineState.OUT_OF_STOCK), (3, LineState.SUBSTITUTED)]) is None
    assert "line 2 waits for the shopper" in str(
        first_unresolved([(1, LineState.PICKED), (2, LineState.WEIGHT_PENDING)])
    )
    assert "line 1 is not picked" in str(first_unresolved([(1, LineState.RESERVED)]))


def test_final_amount_counts_resolved_lines_and_refunds_nothing() -> None:
    total = amounts([1080, 960, 300], [1200, 960, None])
    assert (total.shown_fen, total.final_fen, total.difference_fen) == (2340, 2160, -180)


def test_the_handover_code_is_six_digits_and_must_match_exactly() -> None:
    codes = {new_handover_code() for _ in range(50)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 1
    assert code_matches("012345", " 012345 ")
    assert not code_matches("012345", "12345")
    assert not code_matches(None, "012345")


def test_a_closed_or_paused_location_is_named_with_its_next_opening() -> None:
    monday_9 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    veg = location("veg", LocationKind.STALL, "market", windows=[Window(day=0, opens=time(16), closes=time(19))])
    always = location("kedi", LocationKind.SHOP)
    assert refusal([always], TIMEZONE, monday_9) is None
    where, why = refusal([always, veg], TIMEZONE, monday_9) or ("", "")
    assert where == "veg"
    assert "next opens Mon 2026-01-05 16:00" in why
    assert "busy" in (refusal([replace(always, paused=True)], TIMEZONE, monday_9) or ("", ""))[1]
    assert replace(veg, windows=[]).hours(TIMEZONE).is_open(monday_9)  # no windows: always open
