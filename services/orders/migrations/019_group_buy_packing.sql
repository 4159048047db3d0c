-- Group buying, packing and cash at pickup (docs/shopping.md "Group buying"): what each bag came to
-- as the counter packed it (GroupBuyBagPacked; the share is settled to it), and for a share paid in
-- cash at the pickup point, the cash taken for its bag and who took it (its entry is on the ledger,
-- account 'cash', never the balance).
ALTER TABLE group_buy_shares
    ADD COLUMN payment    text NOT NULL DEFAULT 'balance' CHECK (payment IN ('balance', 'cash_at_pickup')),
    ADD COLUMN packed_fen bigint CHECK (packed_fen >= 0),
    ADD COLUMN packed     jsonb NOT NULL DEFAULT '{}'::jsonb,  -- {items: [the bag's lines as packed]}
    ADD COLUMN cash_fen   bigint CHECK (cash_fen >= 0),
    ADD COLUMN cash_by    text,
    ADD COLUMN cash_at    timestamptz;
