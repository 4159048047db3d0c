-- The service centre's cash desks (domain/cash_desk.py): the money moves on the resident's ledger
-- (ledger_entries); a desk keeps a numbered receipt per transaction, pointing at its entry, and per
-- business day the close that counted the drawer against what was expected, difference kept.

CREATE TABLE cash_desks (
    id              text PRIMARY KEY,
    name_zh         text NOT NULL,
    name_en         text NOT NULL,
    float_fen       bigint NOT NULL DEFAULT 0 CHECK (float_fen >= 0),  -- the change each day starts with
    last_receipt_no bigint NOT NULL DEFAULT 0,  -- receipts are numbered per desk without gaps, under the row's lock
    updated_by      text NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE cash_desk_receipts (
    desk_id           text NOT NULL REFERENCES cash_desks (id),
    number            bigint NOT NULL,
    movement          text NOT NULL CHECK (movement IN ('top_up', 'refund')),
    holder            text NOT NULL,
    amount_fen        bigint NOT NULL CHECK (amount_fen > 0),
    balance_after_fen bigint NOT NULL,
    business_day      date NOT NULL,  -- the desk's day it counts in: a closed day sends it to the next
    entry_id          bigint NOT NULL UNIQUE REFERENCES ledger_entries (id),
    note              text NOT NULL DEFAULT '',
    operator          text NOT NULL,
    at                timestamptz NOT NULL,
    PRIMARY KEY (desk_id, number)
);
CREATE INDEX cash_desk_receipts_day ON cash_desk_receipts (desk_id, business_day, number);

CREATE TABLE cash_desk_day_closes (
    desk_id        text NOT NULL REFERENCES cash_desks (id),
    business_day   date NOT NULL,
    float_fen      bigint NOT NULL,
    in_fen         bigint NOT NULL,
    out_fen        bigint NOT NULL,
    transactions   integer NOT NULL,
    expected_fen   bigint NOT NULL,  -- float + in - out, as the system recorded the day
    counted_fen    bigint NOT NULL CHECK (counted_fen >= 0),
    difference_fen bigint GENERATED ALWAYS AS (counted_fen - expected_fen) STORED,  -- over (+) or short (-)
    note           text NOT NULL DEFAULT '',
    closed_by      text NOT NULL,
    closed_at      timestamptz NOT NULL,
    PRIMARY KEY (desk_id, business_day)
);
