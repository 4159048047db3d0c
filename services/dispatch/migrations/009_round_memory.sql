-- What the assignment rounds remember from one round to the next, whichever instance runs them:
-- the orders held (for whom, why, since when held for a busy rider: the clock max_hold_s bounds,
-- and the costs compared, for the board), and the orders whose undeliverable alert was raised
-- (once). Rounds run one at a time across instances (an advisory lock), so a round rewrites them.
CREATE TABLE IF NOT EXISTS round_holds (
    order_id       text PRIMARY KEY,
    reason         text NOT NULL,
    rider_id       text NOT NULL,
    busy_since     timestamptz,  -- held for a busy rider since (NULL: held for timing)
    leaves_at      timestamptz NOT NULL,
    eta_door_at    timestamptz NOT NULL,
    hold_cost      double precision NOT NULL,
    send_now_rider text,
    send_now_cost  double precision,
    noted_at       timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS undeliverable_alerts (
    order_id  text PRIMARY KEY,
    raised_at timestamptz NOT NULL
);
