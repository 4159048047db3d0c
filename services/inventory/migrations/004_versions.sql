-- Optimistic concurrency for the two aggregates several writers meet on: an order's reservation
-- (staff at the counter, the orders and dispatch consumers, the accept and approval deadlines)
-- and each part (its stall's staff, its market's staff, its accept deadline). A save names the
-- version it loaded and raises it by one; a save of an older version changes nothing and is refused.
ALTER TABLE reservations ADD COLUMN version integer NOT NULL DEFAULT 0;
ALTER TABLE fulfilment_parts ADD COLUMN version integer NOT NULL DEFAULT 0;
