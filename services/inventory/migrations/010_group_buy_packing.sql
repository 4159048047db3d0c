-- Group buying, packing (docs/shopping.md "Group buying"): the counter packs the consolidated order
-- one labelled bag per participant; each bag keeps what went into it, line by line (filled, weighed,
-- or not filled), what it came to, its weight, and who packed it when. A packed bag is never repacked.
ALTER TABLE deal_bags
    ADD COLUMN packed      jsonb,   -- [{line_no, product_id, outcome, pieces, quantity, estimated_fen, price_fen}]
    ADD COLUMN packed_fen  bigint CHECK (packed_fen >= 0),
    ADD COLUMN weight_g    integer CHECK (weight_g >= 0),
    ADD COLUMN packed_by   text,
    ADD COLUMN packed_at   timestamptz;
