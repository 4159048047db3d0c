-- The shop side of an order: hours and the pause switch, product upkeep with its history,
-- parts per fulfilling location, picking with weights and substitutions, packing, handover.

-- Locations: when they trade and how they work. windows NULL means always open.
ALTER TABLE locations
    ADD COLUMN windows              jsonb,
    ADD COLUMN closures             jsonb   NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN paused               boolean NOT NULL DEFAULT false,
    ADD COLUMN delivery_radius_m    integer NOT NULL DEFAULT 1500 CHECK (delivery_radius_m >= 0),
    ADD COLUMN picking_minutes      integer NOT NULL DEFAULT 10 CHECK (picking_minutes >= 0),
    ADD COLUMN weight_tolerance_pct double precision CHECK (weight_tolerance_pct >= 0);

ALTER TABLE products
    ADD COLUMN barcode             text,
    ADD COLUMN low_stock_threshold bigint CHECK (low_stock_threshold >= 0);

-- Whether LowStock was published for the current crossing under the threshold.
ALTER TABLE stock ADD COLUMN low_flagged boolean NOT NULL DEFAULT false;

-- Every change of a product's catalog fields (stock changes are in stock_movements).
CREATE TABLE product_changes (
    id         bigserial PRIMARY KEY,
    product_id text NOT NULL REFERENCES products (id),
    actor      text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    change     text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX product_changes_product ON product_changes (product_id, at);

-- What inventory needs to fulfil the order, kept from OrderPlaced.
ALTER TABLE reservations
    ADD COLUMN placed_by      text,
    ADD COLUMN placed_for     text,
    ADD COLUMN fulfilment_mode text NOT NULL DEFAULT 'pickup',
    ADD COLUMN flags          jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN shown_fen      bigint NOT NULL DEFAULT 0,
    ADD COLUMN final_fen      bigint,
    ADD COLUMN handover_code  text,
    ADD COLUMN bags           integer,
    ADD COLUMN weight_g       bigint,
    ADD COLUMN packed_at      timestamptz,
    ADD COLUMN handed_over_to text,
    ADD COLUMN handed_over_by text,
    ADD COLUMN handed_over_at timestamptz,
    ADD COLUMN returned_at    timestamptz;

-- quantity stays what was reserved at placement (the estimate); the rest is the line's fate.
ALTER TABLE reservation_lines
    ADD COLUMN unit             text NOT NULL DEFAULT 'piece',
    ADD COLUMN ordered_pieces   integer NOT NULL DEFAULT 1,
    ADD COLUMN unit_price_fen   bigint NOT NULL DEFAULT 0,
    ADD COLUMN estimated_fen    bigint NOT NULL DEFAULT 0,
    ADD COLUMN substitution     jsonb NOT NULL DEFAULT '{"mode": "none"}'::jsonb,
    ADD COLUMN state            text NOT NULL DEFAULT 'reserved',
    ADD COLUMN picked_quantity  bigint,
    ADD COLUMN pending_quantity bigint,
    ADD COLUMN charged_fen      bigint,
    ADD COLUMN substitute       jsonb;
UPDATE reservation_lines SET ordered_pieces = quantity;

-- Stock promised to an order, line by line: stock.reserved is always the sum of these rows.
CREATE TABLE holds (
    order_id   text NOT NULL,
    line_no    integer NOT NULL,
    product_id text NOT NULL REFERENCES products (id),
    quantity   bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line_no, product_id)
);
CREATE INDEX holds_product ON holds (product_id);
INSERT INTO holds (order_id, line_no, product_id, quantity)
SELECT rl.order_id, rl.line_no, rl.product_id, rl.quantity
FROM reservation_lines rl JOIN reservations r USING (order_id)
WHERE r.status IN ('held', 'accepted');

-- One part per fulfilling location (the shop, or each stall of a market).
CREATE TABLE fulfilment_parts (
    order_id        text NOT NULL REFERENCES reservations (order_id),
    location_id     text NOT NULL REFERENCES locations (id),
    status          text NOT NULL,
    accept_deadline timestamptz NOT NULL,
    decided_by      text,
    decided_at      timestamptz,
    reason          text,
    note            text,
    bags            integer,
    weight_g        bigint,
    packed_by       text,
    packed_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, location_id)
);
CREATE INDEX fulfilment_parts_location ON fulfilment_parts (location_id, status);

INSERT INTO fulfilment_parts (order_id, location_id, status, accept_deadline, created_at)
SELECT DISTINCT r.order_id, rl.location_id,
       CASE r.status WHEN 'held' THEN 'waiting' WHEN 'accepted' THEN 'accepted'
                     WHEN 'committed' THEN 'packed' ELSE 'released' END,
       r.accept_deadline, r.created_at
FROM reservations r JOIN reservation_lines rl USING (order_id)
WHERE EXISTS (SELECT 1 FROM locations l WHERE l.id = rl.location_id);

-- Accept deadlines were one per order (key = order id); they are one per part now
-- (key = "order_id:location_id"). Re-key the pending ones, part by part.
INSERT INTO deadlines (kind, key, due_at, payload)
SELECT 'accept', d.key || ':' || p.location_id, d.due_at,
       jsonb_build_object('order_id', d.key, 'location_id', p.location_id)
FROM deadlines d JOIN fulfilment_parts p ON p.order_id = d.key AND p.status = 'waiting'
WHERE d.kind = 'accept' AND position(':' IN d.key) = 0 AND d.fired_at IS NULL AND d.cancelled_at IS NULL
ON CONFLICT (kind, key) DO NOTHING;
UPDATE deadlines SET cancelled_at = now()
WHERE kind = 'accept' AND position(':' IN key) = 0 AND fired_at IS NULL AND cancelled_at IS NULL;

-- Every weight change and substitution on an order's lines: who, when, what.
CREATE TABLE line_history (
    id       bigserial PRIMARY KEY,
    order_id text NOT NULL,
    line_no  integer NOT NULL,
    actor    text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    action   text NOT NULL,
    details  jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX line_history_order ON line_history (order_id, line_no, at);
