-- Each rider's last position, kept durably at a low rate (at most one write per rider every
-- ~30 s) beside Redis's live one: while Redis is away, or after it restarted empty, the
-- assignment rounds plan from here instead of seeing every rider vanish.
CREATE TABLE IF NOT EXISTS rider_positions (
    rider_id text PRIMARY KEY,
    lat double precision NOT NULL,
    lon double precision NOT NULL,
    seen_at timestamptz NOT NULL
);
