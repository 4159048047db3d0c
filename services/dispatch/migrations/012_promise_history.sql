-- The promise's history (issue 14): each delivery keeps the forecast's door without slack and the
-- load band it was promised in, so its miss (the real door minus that base) teaches the next
-- promises' slack, per shop and band (services/dispatch/domain/promises.py, PromiseHistory).
ALTER TABLE deliveries
    ADD COLUMN promise_base_at timestamptz,
    ADD COLUMN promise_band    smallint;

-- The rounds read the most recent misses once a round.
CREATE INDEX deliveries_promise_misses ON deliveries (at_door_at DESC)
    WHERE promise_base_at IS NOT NULL AND at_door_at IS NOT NULL;
