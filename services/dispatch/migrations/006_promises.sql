-- One load-aware promise (docs/dispatch.md, "The promise"): a shop's quote keeps, per vehicle, the
-- earliest a rider reaches the shop after the orders ahead, and the slack added to its promises.
ALTER TABLE promise_quotes
    ADD COLUMN IF NOT EXISTS pickups      jsonb NOT NULL DEFAULT '{}'::jsonb,  -- {"e_bike": 240.0}
    ADD COLUMN IF NOT EXISTS slack_s      double precision NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS orders_ahead integer NOT NULL DEFAULT 0;
