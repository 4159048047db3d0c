-- Riders' shifts, the catalog read model, deliveries, offers, lockers and alerts.
ALTER TABLE riders ADD COLUMN IF NOT EXISTS state_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE rider_shifts (
    rider_id  text NOT NULL REFERENCES riders (id) ON DELETE CASCADE,
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL CHECK (ends_at > starts_at),
    PRIMARY KEY (rider_id, starts_at)
);

-- Shops, markets and stalls as the catalog topic describes them.
CREATE TABLE shops (
    location_id      text PRIMARY KEY,
    parent_id        text,
    name_zh          text NOT NULL,
    name_en          text NOT NULL,
    lat              double precision NOT NULL,
    lon              double precision NOT NULL,
    picking_minutes  integer NOT NULL DEFAULT 10,
    no_rider_limit_s double precision,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
    order_id        text PRIMARY KEY,
    store_id        text NOT NULL,
    mode            text NOT NULL,              -- delivery | locker
    status          text NOT NULL,
    placed_by       text NOT NULL,
    placed_for      text NOT NULL,
    address         jsonb,
    contact_phone   text,
    note            text,
    delivery_code   text,
    locker_site_id  text,
    compartment_id  text,
    call_first      boolean NOT NULL DEFAULT false,
    pay_on_delivery boolean NOT NULL DEFAULT false,
    total_fen       integer NOT NULL DEFAULT 0,
    bags            integer,
    weight_g        integer,
    handover_code   text,
    pickup_location text,
    packed_at       timestamptz,
    ready_at        timestamptz,
    promised_at     timestamptz,
    opened_at       timestamptz,
    rider_id        text,
    assigned_at     timestamptz,
    eta_shop_at     timestamptz,
    eta_door_at     timestamptz,
    late_risk       boolean NOT NULL DEFAULT false,
    at_shop_at      timestamptz,
    picked_up_at    timestamptz,
    at_door_at      timestamptz,
    finished_at     timestamptz,
    answer_by       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_status ON deliveries (status);
CREATE INDEX deliveries_rider ON deliveries (rider_id) WHERE rider_id IS NOT NULL;

CREATE TABLE offers (
    id          uuid PRIMARY KEY,
    order_id    text NOT NULL REFERENCES deliveries (order_id) ON DELETE CASCADE,
    rider_id    text NOT NULL,
    status      text NOT NULL DEFAULT 'pending', -- pending | accepted | declined | expired | withdrawn
    reason      text,
    eta_shop_at timestamptz NOT NULL,
    eta_door_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    answered_at timestamptz
);
CREATE UNIQUE INDEX offers_one_pending ON offers (order_id) WHERE status = 'pending';
CREATE INDEX offers_rider ON offers (rider_id, status);

-- A rider who declined (or let lapse, or fell behind on) an order is not asked for it again.
CREATE TABLE offer_exclusions (
    order_id text NOT NULL,
    rider_id text NOT NULL,
    reason   text NOT NULL,
    PRIMARY KEY (order_id, rider_id)
);

CREATE TABLE locker_sites (
    id   text PRIMARY KEY,
    name text NOT NULL,
    lat  double precision NOT NULL,
    lon  double precision NOT NULL
);

CREATE TABLE locker_compartments (
    site_id    text NOT NULL REFERENCES locker_sites (id) ON DELETE CASCADE,
    id         text NOT NULL,
    size       text NOT NULL CHECK (size IN ('S', 'M', 'L')),
    order_id   text,
    state      text NOT NULL DEFAULT 'free', -- free | reserved | occupied
    code       text,
    collect_by timestamptz,
    PRIMARY KEY (site_id, id)
);
CREATE UNIQUE INDEX compartment_one_order ON locker_compartments (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE alerts (
    id         bigserial PRIMARY KEY,
    order_id   text,
    rider_id   text,
    kind       text NOT NULL,
    message    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
