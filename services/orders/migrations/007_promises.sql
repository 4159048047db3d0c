-- One load-aware promise (docs/shopping.md, "Promise"): a shop's quote keeps, per vehicle, the earliest
-- a rider reaches the shop after the orders ahead, and the slack added to every promise from it.
ALTER TABLE circle_promises
    ADD COLUMN IF NOT EXISTS pickups       jsonb NOT NULL DEFAULT '[]'::jsonb,  -- [{"vehicle", "at_shop_minutes"}]
    ADD COLUMN IF NOT EXISTS slack_minutes integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS orders_ahead  integer NOT NULL DEFAULT 0;
