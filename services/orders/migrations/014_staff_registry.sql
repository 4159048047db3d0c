-- Inventory's staff registry as orders reads it (StaffRegistryChanged on linli.catalog): the subjects
-- registered for each shop, stall or market. No row, or an empty list: every store_staff token naming
-- the location is admitted. `reported_at` keeps an older report from overwriting a newer one.
CREATE TABLE catalog_staff_registry (
    location_id text PRIMARY KEY,
    subjects    text[] NOT NULL,
    reported_at timestamptz NOT NULL
);
