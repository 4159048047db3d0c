-- A closed group buy's trip to its pickup point as orders follows it (docs/shopping.md "Group buying"):
-- dispatch's one delivery (or a compartment per bag at a locker site), or, at the counter, the
-- consolidated order's handover code the leader collects with. The leader's page reads it.
CREATE TABLE group_buy_trips (
    deal_id      text PRIMARY KEY REFERENCES group_buys (id),
    kind         text NOT NULL CHECK (kind IN ('delivery', 'locker', 'counter')),
    status       text NOT NULL CHECK (status IN ('planned', 'open', 'at_pickup', 'arrived', 'refused', 'counter')),
    bags         integer,
    weight_g     integer,
    vehicle      text,
    reason       text,             -- why dispatch refused one trip (the leader collects at the counter)
    rider_id     text,
    site_id      text,
    counter_code text,             -- the consolidated order's handover code, once packed: the leader's only
    compartments jsonb NOT NULL DEFAULT '{}'::jsonb,  -- bag number -> {compartment_id, code, collect_by}
    updated_at   timestamptz NOT NULL
);
