-- Optimistic concurrency for the aggregates two writers can meet on: a rider's step or answer and
-- an assignment round (or a dispatcher) may load the same delivery, offer or rider at once; each
-- save says which version it read, and a stale save changes nothing and is refused.
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 0;
ALTER TABLE offers ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 0;
ALTER TABLE riders ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 0;
