-- The shopper's side (issue 5): delivery fees, availability for search, slot orders, notes.

-- What the shop charges to deliver an order; stalls charge nothing (their market does).
ALTER TABLE locations
    ADD COLUMN delivery_fee_fen integer NOT NULL DEFAULT 0 CHECK (delivery_fee_fen >= 0);

-- The availability level last published (StockLevelChanged), so it is published only when it
-- changes. NULL: never published; the next check publishes it.
ALTER TABLE stock
    ADD COLUMN published_level text CHECK (published_level IN ('in_stock', 'low', 'out'));

-- A delivery in a chosen slot: its stock is held from placement, but it enters the shop's live
-- queue (and its accept countdown starts) only at release_at. The shopper's note, for the shop.
ALTER TABLE reservations
    ADD COLUMN slot_start timestamptz,
    ADD COLUMN slot_end   timestamptz,
    ADD COLUMN release_at timestamptz,
    ADD COLUMN note       text;
CREATE INDEX reservations_release ON reservations (release_at) WHERE release_at IS NOT NULL;
