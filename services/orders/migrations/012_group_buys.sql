-- Group buying (docs/shopping.md "Group buying"): who may lead deals, the deals, and the shares in them.

-- The `group_leader` capability of a shopper: granted by an admin (for any shop, scope '*') or by a
-- shop's staff (for that shop only, scope = the shop's id); revoked, it stays as a record.
CREATE TABLE group_leaders (
    shopper    text NOT NULL,
    scope      text NOT NULL,
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL,
    revoked_by text,
    revoked_at timestamptz,
    PRIMARY KEY (shopper, scope)
);

CREATE TABLE group_buys (
    id               text PRIMARY KEY,
    store_id         text NOT NULL,
    leader           text NOT NULL,
    title            text NOT NULL,
    status           text NOT NULL
        CHECK (status IN ('proposed', 'accepted', 'open', 'closed', 'failed', 'declined', 'cancelled')),
    items            jsonb NOT NULL,
    minimum_kind     text NOT NULL CHECK (minimum_kind IN ('participants', 'pieces')),
    minimum          integer NOT NULL CHECK (minimum >= 1),
    cutoff_at        timestamptz NOT NULL,
    pickup           jsonb NOT NULL,
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL CHECK (window_end > cutoff_at),
    uncollected      text NOT NULL CHECK (uncollected IN ('return_refund', 'second_window')),
    second_window    jsonb,
    platform_fee_fen bigint NOT NULL DEFAULT 0 CHECK (platform_fee_fen >= 0),
    commission_bp    integer NOT NULL DEFAULT 0 CHECK (commission_bp BETWEEN 0 AND 10000),
    cash_allowed     boolean NOT NULL DEFAULT false,
    reason           text,
    details          jsonb NOT NULL DEFAULT '{}'::jsonb,
    decided_by       text,
    created_at       timestamptz NOT NULL,
    version          integer NOT NULL DEFAULT 0
);
CREATE INDEX group_buys_store ON group_buys (store_id, status);

CREATE TABLE group_buy_shares (
    group_buy_id text NOT NULL REFERENCES group_buys (id),
    holder       text NOT NULL,
    joined_by    text NOT NULL,
    status       text NOT NULL CHECK (status IN ('joined', 'left', 'refunded')),
    pieces       jsonb NOT NULL,  -- line_no -> pieces
    number       integer,         -- the participant's number, given at the close
    joined_at    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (group_buy_id, holder)
);

-- A share's money is on the holder's ledger like an order's, named by the deal instead of an order.
ALTER TABLE ledger_entries ADD COLUMN group_buy_id text REFERENCES group_buys (id);
CREATE INDEX ledger_entries_group_buy ON ledger_entries (group_buy_id, holder, id) WHERE group_buy_id IS NOT NULL;
