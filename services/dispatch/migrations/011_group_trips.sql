-- A group buy's one trip (docs/shopping.md "Group buying"): every bag of a closed deal in ONE delivery
-- (deliveries.order_id = the deal's id) to its pickup point, sized against the vehicles. For a locker
-- site each bag has its own compartment, booked under '<deal>#<number>' in locker_compartments.
CREATE TABLE group_trips (
    deal_id      text PRIMARY KEY,
    store_id     text NOT NULL,
    leader       text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('delivery', 'locker')),
    status       text NOT NULL CHECK (status IN ('planned', 'open', 'at_pickup', 'arrived', 'refused')),
    bags         jsonb NOT NULL,          -- [{number, holder, joined_by}]
    compartments jsonb NOT NULL DEFAULT '{}'::jsonb,  -- bag number -> compartment id (a locker site)
    pickup_name  text NOT NULL,
    lat          double precision NOT NULL,
    lon          double precision NOT NULL,
    site_id      text,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    weight_g     integer,
    vehicle      text,                    -- the smallest vehicle that carries the whole trip
    reason       text,                    -- why it was refused
    rider_id     text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
