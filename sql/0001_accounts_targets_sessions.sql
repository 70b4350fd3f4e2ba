-- Accounts, TOTP enrolment, targets, emergency sessions and the notification outbox.
-- Secrets are never stored readable: TOTP seeds and signing keys are AES-GCM ciphertexts,
-- API tokens and enrolment codes are SHA-256 hashes.

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    roles           text[] NOT NULL CHECK (cardinality(roles) > 0),
    created_at      timestamptz NOT NULL,
    created_by      text NOT NULL,
    totp_seed_enc   bytea,
    totp_confirmed  boolean NOT NULL DEFAULT false,
    -- A seed shown at enrolment but not yet confirmed with a first code.
    totp_pending_seed_enc bytea,
    -- Highest TOTP time step spent; a code at or below it is refused (one code, once).
    totp_last_step  bigint NOT NULL DEFAULT 0,
    locked_until    timestamptz
);

CREATE TABLE enrollment_codes (
    code_hash   bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX enrollment_codes_user ON enrollment_codes (user_id);

CREATE TABLE api_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id),
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Failed TOTP proofs, counted per user across every client for lockout.
CREATE TABLE totp_failures (
    id          bigserial PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id),
    failed_at   timestamptz NOT NULL
);
CREATE INDEX totp_failures_user_time ON totp_failures (user_id, failed_at);

CREATE TABLE targets (
    name                    text PRIMARY KEY,
    kind                    text NOT NULL CHECK (kind IN ('token')),
    audience                text NOT NULL,
    max_ttl_seconds         integer NOT NULL CHECK (max_ttl_seconds > 0),
    max_total_seconds       integer NOT NULL CHECK (max_total_seconds >= max_ttl_seconds),
    retro_deadline_seconds  integer NOT NULL CHECK (retro_deadline_seconds > 0),
    requesters              text[] NOT NULL,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    updated_by              text NOT NULL
);

CREATE TABLE sessions (
    id              text PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users(id),
    target          text NOT NULL REFERENCES targets(name),
    credential_kind text NOT NULL,
    reason          text NOT NULL,
    incident        text NOT NULL,
    state           text NOT NULL CHECK (state IN ('active', 'expired', 'ended', 'revoked')),
    activated_at    timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    hard_limit      timestamptz NOT NULL,
    -- The retroactive pull request is owed by this time; tracked by a later migration.
    retro_due_at    timestamptz NOT NULL,
    extensions      integer NOT NULL DEFAULT 0,
    closed_at       timestamptz,
    closed_by       text,
    close_reason    text,
    -- What revocation needs (signing key id, token id), never the credential itself.
    credential_ref  jsonb NOT NULL,
    client_address  text,
    user_agent      text
);
CREATE INDEX sessions_user ON sessions (user_id, activated_at DESC);
CREATE INDEX sessions_due_expiry ON sessions (expires_at) WHERE state = 'active';

-- Written in the same transaction as the event it announces. The delivery service fans each message out
-- into one delivery per routed channel (see 0004).
CREATE TABLE outbox (
    id             uuid PRIMARY KEY,
    event_type     text NOT NULL,
    session_id     text,
    target         text,
    payload        jsonb NOT NULL,
    created_at     timestamptz NOT NULL,
    fanned_out_at  timestamptz
);
CREATE INDEX outbox_unrouted ON outbox (created_at) WHERE fanned_out_at IS NULL;

CREATE TABLE signing_keys (
    kid              text PRIMARY KEY,
    algorithm        text NOT NULL,
    public_key       bytea NOT NULL,
    private_key_enc  bytea NOT NULL,
    created_at       timestamptz NOT NULL,
    retired_at       timestamptz
);
