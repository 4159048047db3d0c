"""Consumer rules without a broker: retry schedule, idempotency fingerprints."""

import pytest

from shared.idempotency import BadIdempotencyKey, check_key, request_hash
from shared.inbox import RetryPolicy


def test_retries_double_and_stop_within_the_window() -> None:
    pauses = RetryPolicy(window_s=10, initial_s=0.1, max_s=2).pauses()
    assert pauses[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert max(pauses) == 2
    assert sum(pauses) <= 10


def test_a_zero_window_means_no_retry() -> None:
    assert RetryPolicy(window_s=0).pauses() == []


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    a = request_hash("POST", "/orders", {"store_id": "s", "lines": [{"product_id": "p", "quantity": 1}]})
    b = request_hash("POST", "/orders", {"lines": [{"quantity": 1, "product_id": "p"}], "store_id": "s"})
    c = request_hash("POST", "/orders", {"store_id": "s", "lines": [{"product_id": "p", "quantity": 2}]})
    assert a == b != c


def test_idempotency_keys_are_checked() -> None:
    with pytest.raises(BadIdempotencyKey) as missing:
        check_key(None, required=True)
    assert missing.value.status_code == 400
    assert check_key(None, required=False) is None
    with pytest.raises(BadIdempotencyKey):
        check_key("x" * 201, required=False)
    assert check_key(" abc ", required=True) == "abc"
