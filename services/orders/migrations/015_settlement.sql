-- Settlement (docs/operations.md "Settlement: the chart of accounts"). A ledger entry made at the
-- service centre's cash desk names the desk, so its cash is booked to that desk and not the bank.
ALTER TABLE ledger_entries ADD COLUMN desk text;

-- Periods close one after another: each runs from the previous one's end (or the first entry) to
-- its own `ends_at`. A closed period never changes (see the journal's triggers below).
CREATE TABLE settlement_periods (
    id        bigserial PRIMARY KEY,
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL UNIQUE,
    closed_at timestamptz NOT NULL,
    closed_by text NOT NULL,
    CHECK (ends_at > starts_at)
);

-- The journal: one row per balanced entry, its lines below. `at` is when it happened; `booked_at`
-- is when it counts, the same unless `at` falls in a closed period, when it is booked at that
-- period's end, into the open one (a late entry, shown as such on statements).
CREATE TABLE journal_entries (
    id              uuid PRIMARY KEY,
    event           text NOT NULL,
    at              timestamptz NOT NULL,
    booked_at       timestamptz NOT NULL,
    store_id        text,            -- the shop or market the entry is about (its order's, deal's, payout's)
    order_id        text,
    group_buy_id    text,
    holder          text,
    rider           text,
    desk            text,
    corrects_period bigint REFERENCES settlement_periods (id),
    note            text NOT NULL DEFAULT '',
    by              text NOT NULL,
    once            text UNIQUE      -- an entry made at most once, e.g. 'settled:<order id>'
);
CREATE INDEX journal_entries_booked ON journal_entries (booked_at);
CREATE INDEX journal_entries_order ON journal_entries (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX journal_entries_deal ON journal_entries (group_buy_id) WHERE group_buy_id IS NOT NULL;

CREATE TABLE journal_lines (
    entry_id   uuid NOT NULL REFERENCES journal_entries (id),
    n          int NOT NULL,
    book       text NOT NULL,
    party      text NOT NULL DEFAULT '',
    amount_fen bigint NOT NULL CHECK (amount_fen <> 0),  -- a debit is positive, a credit negative
    what       text NOT NULL DEFAULT '',
    PRIMARY KEY (entry_id, n)
);
CREATE INDEX journal_lines_account ON journal_lines (book, party);

-- A volatile function's query sees what committed before it ran, so an entry written after a
-- close (which locks the journal while it closes) is booked after the closed period.
CREATE FUNCTION journal_booked_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.booked_at := greatest(NEW.at, coalesce((SELECT max(ends_at) FROM settlement_periods), NEW.at));
    RETURN NEW;
END $$;
CREATE TRIGGER journal_entries_booked BEFORE INSERT ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_booked_at();

-- Append-only: a correction is a new entry, never an edit.
CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: post a correction instead of changing %', TG_TABLE_NAME;
END $$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER settlement_periods_closed BEFORE UPDATE OR DELETE ON settlement_periods
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();

-- Every entry balances, checked as the transaction commits (its lines may follow it).
CREATE FUNCTION journal_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total bigint;
BEGIN
    SELECT coalesce(sum(amount_fen), 0) INTO total FROM journal_lines WHERE entry_id = NEW.id;
    IF total <> 0 OR NOT EXISTS (SELECT 1 FROM journal_lines WHERE entry_id = NEW.id) THEN
        RAISE EXCEPTION 'journal entry % (%) does not balance: its lines add up to % fen', NEW.id, NEW.event, total;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_entries_balance AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_balances();

-- Opening entries for a database that already had money on its ledgers (`linli up --keep`): each
-- non-zero balance, and what each order still in progress was charged, enter the books against
-- the bank, so the residents' accounts equal their balances and those orders settle through `held`.
WITH holders AS MATERIALIZED (
    SELECT gen_random_uuid() AS id, holder, balance_fen FROM balances WHERE balance_fen <> 0
), opened AS (
    INSERT INTO journal_entries (id, event, at, booked_at, holder, note, by)
    SELECT id, 'opening', now(), now(), holder, 'the balance before the journal began', 'migration 015'
    FROM holders
)
INSERT INTO journal_lines (entry_id, n, book, party, amount_fen, what)
SELECT id, 0, 'resident', holder, -balance_fen, 'opening' FROM holders
UNION ALL
SELECT id, 1, 'bank', '', balance_fen, 'opening' FROM holders;

WITH charged AS MATERIALIZED (
    SELECT gen_random_uuid() AS id, o.id AS order_id, o.store_id, o.placed_for, -sum(e.amount_fen) AS fen
    FROM orders o JOIN ledger_entries e ON e.order_id = o.id AND e.account = 'balance'
    WHERE o.status NOT IN ('DELIVERED', 'COLLECTED', 'RETURNED', 'REJECTED', 'CANCELLED')
    GROUP BY o.id HAVING sum(e.amount_fen) <> 0
), opened AS (
    INSERT INTO journal_entries (id, event, at, booked_at, store_id, order_id, holder, note, by)
    SELECT id, 'opening', now(), now(), store_id, order_id, placed_for, 'paid before the journal began',
        'migration 015'
    FROM charged
)
INSERT INTO journal_lines (entry_id, n, book, party, amount_fen, what)
SELECT id, 0, 'held', '', -fen, 'opening' FROM charged
UNION ALL
SELECT id, 1, 'bank', '', fen, 'opening' FROM charged;
