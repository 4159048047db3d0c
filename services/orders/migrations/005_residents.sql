-- Help for elderly residents (docs/shopping.md): residents a helper registered, shoppers who
-- named a helper, the substitution each person chose per product, and the ratings of orders.

CREATE TABLE residents (
    resident_id          text PRIMARY KEY,                -- 'res-…'
    helper               text NOT NULL,                   -- the helper's subject, who registered them
    name                 text NOT NULL,
    address              jsonb,                           -- {"text", "lat", "lon"}
    phone                text,
    call_before_delivery boolean NOT NULL DEFAULT false,
    pay_on_delivery      boolean NOT NULL DEFAULT false,
    note                 text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX residents_helper ON residents (helper, created_at);

CREATE TABLE named_helpers (
    shopper  text NOT NULL,
    helper   text NOT NULL,
    named_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shopper, helper)
);
CREATE INDEX named_helpers_helper ON named_helpers (helper);

-- Remembered per (person ordered for, product): the next order's line without a choice uses it.
CREATE TABLE substitution_prefs (
    holder                text NOT NULL,
    product_id            text NOT NULL,
    mode                  text NOT NULL,
    substitute_product_id text,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (holder, product_id)
);

-- One rating per order; discovery averages shop_stars per store_id.
CREATE TABLE order_ratings (
    order_id    text PRIMARY KEY,
    store_id    text NOT NULL,
    placed_for  text NOT NULL,
    shop_stars  int CHECK (shop_stars BETWEEN 1 AND 5),
    rider_id    text,
    rider_stars int CHECK (rider_stars BETWEEN 1 AND 5),
    comment     text,
    rated_at    timestamptz NOT NULL
);
CREATE INDEX order_ratings_store ON order_ratings (store_id);
