-- Codes resist guessing (shared/attempts.py). Wrong tries of one code (kind: which code, key:
-- whose: an order id, or a locker site and subject), and the lockout they caused; a row goes
-- when the right code is given. Tries per subject and minute, on all code routes together.
CREATE TABLE code_tries (
    kind text NOT NULL,
    key text NOT NULL,
    wrong integer NOT NULL DEFAULT 0 CHECK (wrong >= 0),
    locked_until timestamptz,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);

CREATE TABLE code_tries_by_subject (
    subject text NOT NULL,
    window_start timestamptz NOT NULL,
    tries integer NOT NULL,
    PRIMARY KEY (subject, window_start)
);
