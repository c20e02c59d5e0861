-- Sign-in throttling as one counter per key (an account and address, an address, an
-- account), counted up in the same statement that reads it, so that parallel attempts
-- each see their own number. Replaces login_failures, whose count-then-insert let
-- parallel attempts all read the same count.

CREATE TABLE login_throttle (
    key    text PRIMARY KEY,
    -- Attempts counted since `since` (a success gives its count back).
    n      integer NOT NULL,
    -- Start of the current window; a counter older than the window starts again at 1.
    since  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_throttle_since ON login_throttle (since);

DROP TABLE login_failures;
