-- Group buying (docs/shopping.md "Group buying"): the stock a deal holds, and its packing list.
-- The holds themselves are rows of `holds` under the deal's id (line_no = the deal's line), so
-- stock.reserved stays the sum of the live holds; at the cutoff they become the consolidated
-- order's holds (the order's id is the deal's) and what no bag took is released.

CREATE TABLE deal_stock (
    deal_id    text PRIMARY KEY,
    store_id   text NOT NULL,
    status     text NOT NULL CHECK (status IN ('held', 'refused', 'released', 'ordered')),
    lines      jsonb NOT NULL,  -- [{line_no, product_id, location_id, unit, quantity, group_price_fen}]
    reason     text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version    integer NOT NULL DEFAULT 0
);

-- One labelled bag per participant of a closed deal: what the counter packs and prints.
CREATE TABLE deal_bags (
    deal_id   text NOT NULL REFERENCES deal_stock (deal_id),
    number    integer NOT NULL CHECK (number >= 1),
    holder    text NOT NULL,
    name      text NOT NULL,
    joined_by text NOT NULL,
    items     jsonb NOT NULL,  -- [{line_no, product_id, quantity, price_fen}]
    goods_fen bigint NOT NULL CHECK (goods_fen >= 0),
    PRIMARY KEY (deal_id, number)
);
