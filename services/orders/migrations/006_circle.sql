-- Discovery and search in the 15-minute circle (docs/shopping.md): the delivery fee and what a
-- search matches in the catalog read model, and the circle read model fed by linli.circle.

ALTER TABLE catalog_locations
    ADD COLUMN delivery_fee_fen integer NOT NULL DEFAULT 0;

-- Pinyin is computed once when a product arrives (NULL: arrived before this migration, filled
-- at start-up); availability is unknown until inventory reports a level.
ALTER TABLE catalog_products
    ADD COLUMN pinyin          text,
    ADD COLUMN pinyin_initials text,
    ADD COLUMN availability    text NOT NULL DEFAULT 'unknown'
        CHECK (availability IN ('in_stock', 'low', 'out', 'unknown'));
CREATE INDEX catalog_products_unpinned ON catalog_products (product_id) WHERE pinyin IS NULL;

-- Stock levels by product: a level may arrive before its product (they travel under different
-- keys, so on different partitions); the product picks it up when it arrives.
CREATE TABLE catalog_stock_levels (
    product_id text PRIMARY KEY,
    level      text NOT NULL,
    available  integer NOT NULL,
    changed_at timestamptz NOT NULL
);

CREATE TABLE circle_lockers (
    site_id    text PRIMARY KEY,
    name       text NOT NULL,
    lat        double precision NOT NULL,
    lon        double precision NOT NULL,
    active     boolean NOT NULL,
    free       jsonb NOT NULL DEFAULT '{}'::jsonb,  -- free compartments by size: {"S": 2, "M": 0}
    updated_at timestamptz NOT NULL
);

CREATE TABLE circle_promises (
    location_id           text PRIMARY KEY,
    ready_minutes         integer NOT NULL,
    rider_to_shop_minutes integer,  -- NULL: no free rider
    riders_available      integer NOT NULL,
    quoted_at             timestamptz NOT NULL
);

-- How busy a shop is: its open orders, counted on every discovery request.
CREATE INDEX orders_open_by_store ON orders (store_id) WHERE status IN ('CONFIRMED', 'ACCEPTED', 'PICKING');
