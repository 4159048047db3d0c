"""The fault drill's promises, checked against rows read from the services' own databases.

Pure functions: each takes the rows `bench/chaos.py` read (plain dicts, as asyncpg records turn
into) and what the load generator saw, and returns the violations it finds, each saying which
promise broke and for what. No I/O, so the rules are unit-tested on made-up rows
(tests/unit/shared/test_chaos_invariants.py).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = Mapping[str, Any]

UNDECIDED = {"PLACED"}
REFUNDED_WHEN = {"REJECTED", "CANCELLED"}
LIVE_RESERVATION = {"held", "accepted", "picking", "packed"}
MAX_SHOWN = 5  # examples per violation


@dataclass(frozen=True)
class Violation:
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


def _some(items: Iterable[Any]) -> str:
    shown = list(items)
    more = f" (+{len(shown) - MAX_SHOWN} more)" if len(shown) > MAX_SHOWN else ""
    return ", ".join(str(x) for x in shown[:MAX_SHOWN]) + more


def acknowledged_orders_exist_once(
    acknowledged: Mapping[str, str], orders: Sequence[Row], unanswered_keys: int
) -> list[Violation]:
    """`acknowledged`: Idempotency-Key -> the order id its 201 named; `orders`: the run's orders in the DB.

    Every acknowledged order is there, no two keys were answered with one order, and the database has
    no order beyond them, except at most one per key that never got a definite answer (the client gave up).
    """
    found: list[Violation] = []
    ids = Counter(str(o["id"]) for o in orders)
    missing = sorted(set(acknowledged.values()) - set(ids))
    if missing:
        found.append(Violation("acknowledged orders exist", f"{len(missing)} missing: {_some(missing)}"))
    shared = [oid for oid, n in Counter(acknowledged.values()).items() if n > 1]
    if shared:
        found.append(Violation("one order per key", f"{len(shared)} orders answer several keys: {_some(shared)}"))
    doubled = [oid for oid, n in ids.items() if n > 1]
    if doubled:
        found.append(Violation("orders exist once", f"{len(doubled)} ids twice: {_some(doubled)}"))
    extra = sorted(set(ids) - set(acknowledged.values()))
    if len(extra) > unanswered_keys:
        found.append(
            Violation(
                "orders exist once",
                f"{len(extra)} orders nobody was answered with ({unanswered_keys} keys unanswered): {_some(extra)}",
            )
        )
    return found


def no_order_stuck(orders: Sequence[Row]) -> list[Violation]:
    stuck = sorted(str(o["id"]) for o in orders if o["status"] in UNDECIDED)
    return [Violation("no order stuck", f"{len(stuck)} still PLACED: {_some(stuck)}")] if stuck else []


def stock_conserved(
    initial: Mapping[str, int],
    stock: Sequence[Row],
    holds: Sequence[Row],
    reservations: Sequence[Row],
    committed: Mapping[str, int],
) -> list[Violation]:
    """on_hand = initial − committed; reserved = the sum of holds; holds only for live reservations.

    `stock`: product_id, on_hand, reserved; `holds`: order_id, product_id, quantity; `reservations`:
    order_id, status; `committed`: product_id -> pieces that left the shop (handed over).
    """
    found: list[Violation] = []
    status = {str(r["order_id"]): str(r["status"]) for r in reservations}
    held: dict[str, int] = defaultdict(int)
    for h in holds:
        held[str(h["product_id"])] += int(h["quantity"])
    dead = sorted({str(h["order_id"]) for h in holds if status.get(str(h["order_id"])) not in LIVE_RESERVATION})
    if dead:
        found.append(Violation("reserved = live holds", f"holds of ended or unknown reservations: {_some(dead)}"))
    seen = set()
    for s in stock:
        pid = str(s["product_id"])
        seen.add(pid)
        on_hand, reserved = int(s["on_hand"]), int(s["reserved"])
        if pid in initial and on_hand != initial[pid] - committed.get(pid, 0):
            found.append(
                Violation(
                    "stock conserved",
                    f"{pid}: on_hand {on_hand} != initial {initial[pid]} - committed {committed.get(pid, 0)}",
                )
            )
        if reserved != held.get(pid, 0):
            found.append(Violation("reserved = live holds", f"{pid}: reserved {reserved} != holds {held.get(pid, 0)}"))
        if on_hand < 0 or reserved > on_hand:
            found.append(Violation("never oversold", f"{pid}: {reserved} reserved of {on_hand} on hand"))
    absent = sorted(set(initial) - seen)
    if absent:
        found.append(Violation("stock conserved", f"no stock row for {_some(absent)}"))
    return found


def never_oversold(initial: Mapping[str, int], kept: Mapping[str, int]) -> list[Violation]:
    """`kept`: product -> pieces that orders not refused or cancelled took; never more than there was."""
    return [
        Violation("never oversold", f"{pid}: orders kept {n} of {initial.get(pid, 0)}")
        for pid, n in sorted(kept.items())
        if n > initial.get(pid, 0)
    ]


def orders_agree_with_reservations(orders: Sequence[Row], reservations: Sequence[Row]) -> list[Violation]:
    """A CONFIRMED order has a live reservation; a refused or cancelled one has none."""
    status = {str(r["order_id"]): str(r["status"]) for r in reservations}
    unheld = sorted(
        str(o["id"]) for o in orders if o["status"] == "CONFIRMED" and status.get(str(o["id"])) not in LIVE_RESERVATION
    )
    held = sorted(
        str(o["id"]) for o in orders if o["status"] in REFUNDED_WHEN and status.get(str(o["id"])) in LIVE_RESERVATION
    )
    found = []
    if unheld:
        found.append(Violation("orders agree with stock", f"CONFIRMED without a live reservation: {_some(unheld)}"))
    if held:
        found.append(Violation("orders agree with stock", f"refused but stock still held: {_some(held)}"))
    return found


def applied_once(
    orders: Sequence[Row], ledger: Sequence[Row], timeline: Sequence[Row], reserve_moves: Sequence[Row]
) -> list[Violation]:
    """No event applied twice, seen in its effects.

    - `ledger` (order_id, kind): one `paid` per order; a `refund` only for a refused or cancelled
      order, and exactly one then;
    - `timeline` (order_id, status): no status entered twice;
    - `reserve_moves` (order_id, product_id, reserved_delta > 0): one reservation per order and product.
    """
    found: list[Violation] = []
    status = {str(o["id"]): str(o["status"]) for o in orders}
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for e in ledger:
        if e["order_id"] is not None:
            kinds[str(e["order_id"])][str(e["kind"])] += 1
    paid = sorted(oid for oid in status if kinds[oid]["paid"] != 1)
    if paid:
        found.append(Violation("paid once", f"{len(paid)} orders not paid exactly once: {_some(paid)}"))
    refunds = sorted(oid for oid, s in status.items() if kinds[oid]["refund"] != (1 if s in REFUNDED_WHEN else 0))
    if refunds:
        shown = (f"{oid} ({status[oid]}, {kinds[oid]['refund']} refunds)" for oid in refunds)
        found.append(Violation("refunded once", f"{len(refunds)} orders: {_some(shown)}"))
    twice = Counter((str(t["order_id"]), str(t["status"])) for t in timeline if t["status"] is not None)
    repeated = sorted(f"{oid} {s} x{n}" for (oid, s), n in twice.items() if n > 1)
    if repeated:
        found.append(Violation("timeline once", f"{len(repeated)} repeated statuses: {_some(repeated)}"))
    moves = Counter((str(m["order_id"]), str(m["product_id"])) for m in reserve_moves)
    doubled = sorted(f"{oid}/{pid} x{n}" for (oid, pid), n in moves.items() if n > 1)
    if doubled:
        found.append(Violation("reserved once", f"{len(doubled)} reserved twice: {_some(doubled)}"))
    return found


def balances_match_ledgers(balances: Sequence[Row], ledger: Sequence[Row]) -> list[Violation]:
    """Each holder's balance is the sum of its `balance` ledger entries and its last entry's balance_after."""
    total: dict[str, int] = defaultdict(int)
    last: dict[str, tuple[int, int | None]] = {}
    for e in ledger:
        if e.get("account", "balance") != "balance":
            continue
        holder = str(e["holder"])
        total[holder] += int(e["amount_fen"])
        if holder not in last or int(e["id"]) > last[holder][0]:
            after = e.get("balance_after_fen")
            last[holder] = (int(e["id"]), None if after is None else int(after))
    wrong = []
    for b in balances:
        holder, balance = str(b["holder"]), int(b["balance_fen"])
        if balance != total.get(holder, 0):
            wrong.append(f"{holder}: {balance} != ledger {total.get(holder, 0)}")
        elif holder in last and last[holder][1] is not None and last[holder][1] != balance:
            wrong.append(f"{holder}: {balance} != last balance_after {last[holder][1]}")
    return [Violation("balances = ledgers", f"{len(wrong)} holders: {_some(wrong)}")] if wrong else []


def outboxes_drained(pending: Mapping[str, int]) -> list[Violation]:
    return [
        Violation("outbox drained", f"{service}: {n} events never published")
        for service, n in sorted(pending.items())
        if n
    ]


def expected_dead_letters(sent: Mapping[str, int], groups: Mapping[str, int]) -> dict[str, int]:
    """Every consumer group of a topic dead-letters each malformed message it reads: sent × groups."""
    return {topic: n * groups.get(topic, 0) for topic, n in sent.items()}


def dead_letters_only_malformed(
    expected: Mapping[str, int], letters: Mapping[str, Sequence[Row]], marker: str
) -> list[Violation]:
    """`letters`: topic -> its DLQ's records (key, error): only ours (key starting with `marker`), as many as
    expected."""
    found = []
    for topic in sorted(set(expected) | set(letters)):
        got = letters.get(topic, [])
        foreign = [
            f"{r.get('key')}: {str(r.get('error', ''))[:80]}"
            for r in got
            if not str(r.get("key") or "").startswith(marker)
        ]
        if foreign:
            found.append(
                Violation("DLQ only malformed", f"{topic}.dlq holds {len(foreign)} real events: {_some(foreign)}")
            )
        ours = len(got) - len(foreign)
        if ours != expected.get(topic, 0):
            found.append(
                Violation(
                    "DLQ only malformed",
                    f"{topic}.dlq holds {ours} malformed messages, expected {expected.get(topic, 0)}",
                )
            )
    return found


SERVER_ERRORS_ALLOWED = {503}  # a dependency away: 503 with Retry-After; anything else 5xx is a bug


def server_errors(statuses: Mapping[int, int]) -> list[Violation]:
    """During a fault a client sees 4xx, 503 or a refused connection, never a 500."""
    bad = {s: n for s, n in sorted(statuses.items()) if s >= 500 and s not in SERVER_ERRORS_ALLOWED}
    return [Violation("no 500s", f"answers {bad}")] if bad else []


# --- recovery: how long confirmations stopped, and how soon new orders confirmed again -------------


def longest_gap(times: Sequence[float], start: float, end: float) -> float:
    """The longest stretch of [start, end] with none of `times` in it (seconds)."""
    if end <= start:
        return 0.0
    inside = sorted(t for t in times if start <= t <= end)
    edges = [start, *inside, end]
    return max(b - a for a, b in itertools.pairwise(edges))


def recovery_s(first_sent: Sequence[tuple[float, float | None]], restored: float) -> float | None:
    """Seconds from the fault's end until the first order sent after it was confirmed.

    `first_sent`: (when the order's first POST went out, when it was confirmed or None), wall clock.
    None if no order sent after the fault's end was confirmed.
    """
    after = [c for sent, c in first_sent if sent >= restored and c is not None]
    return None if not after else max(0.0, min(after) - restored)


def events_flowed_once(expected: Mapping[str, int], found: Mapping[str, int]) -> list[Violation]:
    """Each event written once to its outbox and applied once by each consumer that handles it.

    Keys name a place and an event type, e.g. `orders outbox OrderPlaced` or `dispatch inbox
    dispatch OrderPlaced`; an inbox holds an event id at most once per consumer, so fewer rows than
    expected means an event never reached that consumer, and more means one was written twice.
    """
    wrong = [f"{k}: {found.get(k, 0)} != {n}" for k, n in sorted(expected.items()) if found.get(k, 0) != n]
    return [Violation("events flowed once", f"{len(wrong)} counts: {_some(wrong)}")] if wrong else []


def replays_consistent(answers: Sequence[tuple[int | None, bool, bool]]) -> list[Violation]:
    """A retried POST with a key already answered: (status, has Retry-After, same order as the first 201).

    It must name the same order when it answers 201, and a 503 must say when to try again.
    """
    other = sum(1 for status, _, same in answers if status == 201 and not same)
    bare = sum(1 for status, retry, _ in answers if status == 503 and not retry)
    found = []
    if other:
        found.append(Violation("one order per key", f"{other} replays of an answered key named another order"))
    if bare:
        found.append(Violation("503 says when", f"{bare} answers 503 without Retry-After"))
    return found


def cancels_held(cancelled: Sequence[str], orders: Sequence[Row]) -> list[Violation]:
    """An order whose cancel was answered 200 ends CANCELLED, whatever arrived after."""
    status = {str(o["id"]): str(o["status"]) for o in orders}
    wrong = sorted(f"{oid} {status.get(oid)}" for oid in cancelled if status.get(oid) != "CANCELLED")
    return [Violation("cancels hold", f"{len(wrong)} cancelled orders are not: {_some(wrong)}")] if wrong else []


def expected_events(timeline: Sequence[Row]) -> dict[str, int]:
    """What each outbox and inbox must hold for the run's orders, from the statuses their timelines went
    through: every order placed once, answered by inventory once (reserved or refused), and each of
    its confirmation, refusal and cancellation told once to each group that handles it."""
    went: dict[str, set[str]] = defaultdict(set)
    for t in timeline:
        if t["status"] is not None:
            went[str(t["order_id"])].add(str(t["status"]))
    placed = len(went)
    confirmed = sum(1 for s in went.values() if "CONFIRMED" in s)
    rejected = sum(1 for s in went.values() if "REJECTED" in s)
    cancelled = sum(1 for s in went.values() if "CANCELLED" in s)
    return {
        "orders outbox OrderPlaced": placed,
        "orders outbox OrderConfirmed": confirmed,
        "orders outbox OrderRejected": rejected,
        "orders outbox OrderCancelled": cancelled,
        "inventory inbox inventory OrderPlaced": placed,
        "inventory inbox inventory OrderCancelled": cancelled,
        "inventory outbox StockReserved+StockRejected": placed,
        "orders inbox orders StockReserved+StockRejected": placed,
        "dispatch inbox dispatch OrderPlaced": placed,
        "dispatch inbox dispatch OrderConfirmed": confirmed,
        "dispatch inbox dispatch OrderRejected": rejected,
        "dispatch inbox dispatch OrderCancelled": cancelled,
    }


def with_sums(found: Mapping[str, int], keys: Iterable[str]) -> dict[str, int]:
    """`found` plus each key `"<place> A+B"` as the sum of `"<place> A"` and `"<place> B"`."""
    out = dict(found)
    for key in keys:
        place, _, types = key.rpartition(" ")
        if "+" in types:
            out[key] = sum(found.get(f"{place} {t}", 0) for t in types.split("+"))
    return out


def cancel_refusals_explained(refused: Sequence[str], orders: Sequence[Row]) -> list[Violation]:
    """No shop starts picking in the drill, so a shopper's cancel may be refused only for an order that
    was refused first (a refused order cannot be cancelled)."""
    status = {str(o["id"]): str(o["status"]) for o in orders}
    wrong = sorted(f"{oid} {status.get(oid)}" for oid in refused if status.get(oid) != "REJECTED")
    return (
        [Violation("cancels hold", f"{len(wrong)} cancels refused for orders not refused: {_some(wrong)}")]
        if wrong
        else []
    )
