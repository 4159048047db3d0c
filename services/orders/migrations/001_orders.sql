CREATE TABLE orders (
    id             text PRIMARY KEY,
    store_id       text NOT NULL,
    placed_by      text NOT NULL,
    placed_by_role text NOT NULL,
    placed_for     text NOT NULL,
    contact_phone  text,
    fulfilment     jsonb NOT NULL,
    note           text,
    status         text NOT NULL,
    reject_reason  text,
    reject_details jsonb NOT NULL DEFAULT '{}'::jsonb,
    total_fen      bigint NOT NULL,
    version        integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_placed_by ON orders (placed_by, created_at DESC);
CREATE INDEX orders_placed_for ON orders (placed_for, created_at DESC);
CREATE INDEX orders_store ON orders (store_id, created_at DESC);

CREATE TABLE order_lines (
    order_id       text NOT NULL REFERENCES orders (id),
    line_no        integer NOT NULL,
    product_id     text NOT NULL,
    location_id    text NOT NULL,
    name_zh        text NOT NULL,
    name_en        text NOT NULL,
    unit           text NOT NULL,
    quantity       integer NOT NULL CHECK (quantity > 0),
    stock_quantity integer NOT NULL CHECK (stock_quantity > 0),
    unit_price_fen bigint NOT NULL CHECK (unit_price_fen >= 0),
    estimated_fen  bigint NOT NULL CHECK (estimated_fen >= 0),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_timeline (
    order_id text NOT NULL REFERENCES orders (id),
    seq      bigserial,
    at       timestamptz NOT NULL,
    status   text,
    cause    text NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (order_id, seq)
);

-- The read model of inventory's catalog, fed by the compacted linli.catalog topic.
CREATE TABLE catalog_locations (
    location_id text PRIMARY KEY,
    kind        text NOT NULL,
    parent_id   text,
    category    text NOT NULL,
    name_zh     text NOT NULL,
    name_en     text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    active      boolean NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE catalog_products (
    product_id      text PRIMARY KEY,
    location_id     text NOT NULL,
    store_id        text NOT NULL,
    name_zh         text NOT NULL,
    name_en         text NOT NULL,
    category        text NOT NULL,
    unit            text NOT NULL,
    price_fen       bigint NOT NULL,
    grams_per_piece integer,
    active          boolean NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalog_products_store ON catalog_products (store_id);
