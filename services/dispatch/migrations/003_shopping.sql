-- The shopper's side (docs/shopping.md): slots, fees and cash at the door, the pickup point by name,
-- riders' ratings, shops' kind and activity, and the promise last quoted for each shop.
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS slot_start timestamptz;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS slot_end timestamptz;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS release_at timestamptz;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS payment text NOT NULL DEFAULT 'balance';
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS delivery_fee_fen integer NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS platform_fee_fen integer NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS final_fen integer;            -- packed goods
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS due_at_door_fen integer;      -- pay on delivery, once packed
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS cash_collected_fen integer;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS pickup_name_zh text;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS pickup_name_en text;

ALTER TABLE shops ADD COLUMN IF NOT EXISTS kind text;
ALTER TABLE shops ADD COLUMN IF NOT EXISTS active boolean NOT NULL DEFAULT true;

-- One row per rated order (OrderRated), so a redelivered rating never counts twice.
CREATE TABLE IF NOT EXISTS rider_ratings (
    order_id text PRIMARY KEY,
    rider_id text NOT NULL,
    stars    integer NOT NULL CHECK (stars BETWEEN 1 AND 5),
    rated_at timestamptz NOT NULL
);
ALTER TABLE riders ADD COLUMN IF NOT EXISTS rating_sum integer NOT NULL DEFAULT 0;
ALTER TABLE riders ADD COLUMN IF NOT EXISTS rating_count integer NOT NULL DEFAULT 0;

-- What was last published as PromiseQuoted for each shop, in seconds (the rule compares these).
CREATE TABLE IF NOT EXISTS promise_quotes (
    location_id      text PRIMARY KEY,
    ready_s          double precision NOT NULL,
    rider_to_shop_s  double precision,
    riders_available integer NOT NULL,
    quoted_at        timestamptz NOT NULL
);
