-- The shop side (docs/fulfilment.md): opening hours in the catalog read model, the shopper's
-- substitution preference and handling flags, what picking did to each line, and the packed bag.

ALTER TABLE catalog_locations
    ADD COLUMN windows           jsonb,                          -- NULL: always open
    ADD COLUMN closures          jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN paused            boolean NOT NULL DEFAULT false,
    ADD COLUMN delivery_radius_m integer NOT NULL DEFAULT 1500,
    ADD COLUMN picking_minutes   integer NOT NULL DEFAULT 10,
    ADD COLUMN accept_limit_s    integer;

ALTER TABLE orders
    ADD COLUMN flags             jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN final_fen         bigint,
    ADD COLUMN difference_fen    bigint,
    ADD COLUMN bags              integer,
    ADD COLUMN weight_g          integer,
    ADD COLUMN pickup_point      jsonb,
    ADD COLUMN handover_code     text,
    ADD COLUMN return_refund_fen bigint;

ALTER TABLE order_lines
    ADD COLUMN substitution   jsonb NOT NULL DEFAULT '{"mode": "none", "product_id": null}'::jsonb,
    ADD COLUMN status         text NOT NULL DEFAULT 'reserved',
    ADD COLUMN final_quantity integer,
    ADD COLUMN final_fen      bigint,
    ADD COLUMN refund_fen     bigint NOT NULL DEFAULT 0,
    ADD COLUMN substitute     jsonb,
    ADD COLUMN pending        jsonb;
