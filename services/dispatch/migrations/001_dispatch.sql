CREATE TABLE riders (
    id       text PRIMARY KEY,
    name     text NOT NULL,
    vehicle  text NOT NULL,
    capacity integer NOT NULL CHECK (capacity > 0),
    state    text NOT NULL DEFAULT 'offline'
);

-- Every order fact dispatch has received, in the order it applied them.
CREATE TABLE order_log (
    event_id    uuid PRIMARY KEY,
    order_id    text NOT NULL,
    event_type  text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL
);
CREATE INDEX order_log_order ON order_log (order_id, received_at);

CREATE TABLE tracked_orders (
    order_id        text PRIMARY KEY,
    store_id        text NOT NULL,
    fulfilment_mode text,
    status          text NOT NULL,
    awaits_rider    boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
