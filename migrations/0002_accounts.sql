-- Accounts, sessions, login throttling and the audit log.

CREATE TABLE accounts (
    id             bigserial PRIMARY KEY,
    username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.-]{3,40}$'),
    display_name   text NOT NULL,
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'planner', 'grid_chief', 'patrol', 'viewer')),
    -- The scope: a region (everything in it), communities, or grids.
    scope_kind     text NOT NULL CHECK (scope_kind IN ('region', 'communities', 'grids')),
    region_id      bigint NOT NULL REFERENCES regions (id),
    staff_id       bigint REFERENCES staff (id),
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE account_communities (
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    community_id  bigint NOT NULL REFERENCES communities (id),
    PRIMARY KEY (account_id, community_id)
);

CREATE TABLE account_grids (
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    grid_id     bigint NOT NULL REFERENCES grids (id),
    PRIMARY KEY (account_id, grid_id)
);

-- Sessions: only a SHA-256 of each token is stored.
CREATE TABLE sessions (
    id          bigserial PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    csrf_hash   bytea,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('cookie', 'bearer')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    client      text
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Failed logins, per account name and per address, for throttling.
CREATE TABLE login_failures (
    key  text NOT NULL,
    at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key ON login_failures (key, at);

-- The audit log: append-only, enforced by a trigger.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    account_id  bigint,
    actor       text NOT NULL,
    action      text NOT NULL,
    entity      text NOT NULL,
    entity_key  text NOT NULL,
    before      jsonb,
    after       jsonb,
    region_id   bigint
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_key);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END $$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
