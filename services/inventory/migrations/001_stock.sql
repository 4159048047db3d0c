CREATE TABLE locations (
    id          text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('shop', 'market', 'stall')),
    parent_id   text REFERENCES locations (id),
    category    text NOT NULL,
    name_zh     text NOT NULL,
    name_en     text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    accept_limit_s integer,
    CHECK ((kind = 'stall') = (parent_id IS NOT NULL))
);

CREATE TABLE products (
    id              text PRIMARY KEY,
    location_id     text NOT NULL REFERENCES locations (id),
    store_id        text NOT NULL REFERENCES locations (id),
    name_zh         text NOT NULL,
    name_en         text NOT NULL,
    category        text NOT NULL,
    unit            text NOT NULL CHECK (unit IN ('piece', 'g')),
    price_fen       bigint NOT NULL CHECK (price_fen >= 0),
    grams_per_piece integer CHECK (grams_per_piece > 0),
    active          boolean NOT NULL DEFAULT true,
    CHECK (unit = 'piece' OR grams_per_piece IS NOT NULL)
);
CREATE INDEX products_store ON products (store_id);

-- The constraints are the last line of defence against overselling.
CREATE TABLE stock (
    product_id text PRIMARY KEY REFERENCES products (id),
    on_hand    bigint NOT NULL CHECK (on_hand >= 0),
    reserved   bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    CHECK (reserved <= on_hand)
);

CREATE TABLE reservations (
    order_id        text PRIMARY KEY,
    store_id        text NOT NULL,
    status          text NOT NULL,
    accept_deadline timestamptz NOT NULL,
    release_reason  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_store ON reservations (store_id, status);

CREATE TABLE reservation_lines (
    order_id    text NOT NULL REFERENCES reservations (order_id),
    line_no     integer NOT NULL,
    product_id  text NOT NULL REFERENCES products (id),
    location_id text NOT NULL,
    quantity    bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line_no)
);

-- Every change of stock, with who or what caused it: the audit trail shops ask for.
CREATE TABLE stock_movements (
    id             bigserial PRIMARY KEY,
    product_id     text NOT NULL REFERENCES products (id),
    on_hand_delta  bigint NOT NULL DEFAULT 0,
    reserved_delta bigint NOT NULL DEFAULT 0,
    reason         text NOT NULL,
    order_id       text,
    actor          text NOT NULL,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_product ON stock_movements (product_id, at);
