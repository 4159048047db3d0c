-- Money (docs/shopping.md "Money"): a prepaid balance per person ordered for, and a ledger of
-- every movement, per holder and per order. A balance changes only with an entry, in the same
-- transaction; `balance_after_fen` makes each entry's effect checkable on its own.

CREATE TABLE balances (
    holder      text PRIMARY KEY,  -- the person ordered for: a shopper's subject or a resident's id
    balance_fen bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_entries (
    id                bigserial PRIMARY KEY,
    holder            text NOT NULL,
    order_id          text REFERENCES orders (id),  -- NULL for a top-up
    kind              text NOT NULL
        CHECK (kind IN ('top_up', 'paid', 'refund', 'extra_charge', 'cash_collected')),
    account           text NOT NULL DEFAULT 'balance' CHECK (account IN ('balance', 'cash')),
    amount_fen        bigint NOT NULL,              -- signed as it changes the account: a debit is negative
    balance_after_fen bigint,                       -- the holder's balance after it ('balance' entries)
    note              text NOT NULL DEFAULT '',
    by                text NOT NULL,
    at                timestamptz NOT NULL
);
CREATE INDEX ledger_entries_holder ON ledger_entries (holder, id DESC);
CREATE INDEX ledger_entries_order ON ledger_entries (order_id, id) WHERE order_id IS NOT NULL;

-- How the order is paid, the fees shown with the goods, and a chosen delivery slot.
ALTER TABLE orders
    ADD COLUMN payment          text NOT NULL DEFAULT 'balance' CHECK (payment IN ('balance', 'on_delivery')),
    ADD COLUMN delivery_fee_fen bigint NOT NULL DEFAULT 0 CHECK (delivery_fee_fen >= 0),
    ADD COLUMN platform_fee_fen bigint NOT NULL DEFAULT 0 CHECK (platform_fee_fen >= 0),
    ADD COLUMN slot             jsonb,
    ADD COLUMN release_at       timestamptz;
