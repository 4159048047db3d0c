-- Group buying's collection (docs/shopping.md "Group buying"): each bag's code and its check-out,
-- the arrival at the pickup point, the pickup window's end as the deadline it is, and the
-- uncollected bags that went back to the shop (refunded) after it.

ALTER TABLE group_buy_shares
    ADD COLUMN code         text,          -- six digits, given at the close; shown to its holder (and helper)
    ADD COLUMN collected_at timestamptz,
    ADD COLUMN collected_by text,
    ADD COLUMN returned_at  timestamptz;   -- uncollected at the window's end: back to the shop, refunded
ALTER TABLE group_buy_shares DROP CONSTRAINT group_buy_shares_status_check;
ALTER TABLE group_buy_shares ADD CONSTRAINT group_buy_shares_status_check
    CHECK (status IN ('joined', 'left', 'refunded', 'returned'));

ALTER TABLE group_buys
    ADD COLUMN arrived_at     timestamptz,  -- the leader (or a helper, an admin) confirmed the bags are there
    ADD COLUMN arrived_by     text,
    ADD COLUMN pickup_ends_at timestamptz,  -- the window's end now: the first, or the second once it began
    ADD COLUMN second_window_used boolean NOT NULL DEFAULT false;

-- Codes resist guessing (shared/attempts.py): wrong tries of one bag's code (kind 'groupbuy',
-- key '<deal>:<number>') and the lockout they caused; tries per subject and minute.
CREATE TABLE IF NOT EXISTS code_tries (
    kind text NOT NULL,
    key text NOT NULL,
    wrong integer NOT NULL DEFAULT 0 CHECK (wrong >= 0),
    locked_until timestamptz,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);

CREATE TABLE IF NOT EXISTS code_tries_by_subject (
    subject text NOT NULL,
    window_start timestamptz NOT NULL,
    tries integer NOT NULL,
    PRIMARY KEY (subject, window_start)
);
