-- News without the app (docs/shopping.md, "Text messages"): what each person chose to hear by text,
-- the moments each order has been told once, the messages waiting to be sent, and the recorder's copy.

-- One row per person: a shopper's or helper's subject, or a resident's id (set by their helper).
-- No row, or a choice not in `choices`, means no message: text messages are opted into.
CREATE TABLE news_preferences (
    person     text PRIMARY KEY,
    phone      text,                                     -- null: the resident's or the order's phone
    language   text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    choices    text[] NOT NULL DEFAULT '{}',             -- of: answer, on_the_way, late, arrived
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- Each moment of an order is told once, whatever the event that noticed it (late: the first ETA past it).
CREATE TABLE news_moments (
    order_id text NOT NULL,
    moment   text NOT NULL,
    event_id uuid NOT NULL,
    told_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, moment)
);

-- The message outbox: written in the unit of work of the event that caused it, sent by a loop.
-- message_id is derived from (event id, recipient, moment): a redelivered event adds nothing.
CREATE TABLE message_outbox (
    message_id      uuid PRIMARY KEY,
    event_id        uuid NOT NULL,
    order_id        text NOT NULL,
    recipient       text NOT NULL,
    moment          text NOT NULL,
    choice          text NOT NULL,
    phone           text NOT NULL,
    language        text NOT NULL,
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'withheld')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX message_outbox_due ON message_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX message_outbox_recent ON message_outbox (created_at DESC);

-- The recorder notifier's copy of every message it was given (the default, and what tests use).
-- Keyed by message id like a deduplicating gateway: a second send of one message is counted, not kept twice.
CREATE TABLE recorded_messages (
    message_id  uuid PRIMARY KEY,
    phone       text NOT NULL,
    language    text NOT NULL,
    body        text NOT NULL,
    sends       integer NOT NULL DEFAULT 1,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
