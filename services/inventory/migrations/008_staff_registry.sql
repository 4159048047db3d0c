-- The staff registry: which subject (the identity provider's `sub`) may act for which shop, stall
-- or market. A location with no live entry admits any store_staff token whose store claim names
-- it (development tokens, shops not yet registered); once it has one, only the subjects listed.
-- A revoked entry is kept, with who revoked it and when, so the registry's history can be listed.
CREATE TABLE staff_registry (
    id          bigserial PRIMARY KEY,
    location_id text NOT NULL REFERENCES locations (id),
    subject     text NOT NULL CHECK (subject <> ''),
    granted_by  text NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    revoked_by  text,
    revoked_at  timestamptz,
    CHECK ((revoked_by IS NULL) = (revoked_at IS NULL))
);
CREATE UNIQUE INDEX staff_registry_live ON staff_registry (location_id, subject) WHERE revoked_at IS NULL;
CREATE INDEX staff_registry_location ON staff_registry (location_id) WHERE revoked_at IS NULL;
