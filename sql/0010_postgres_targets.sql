-- The `postgres` credential kind: a temporary login role per session on a target PostgreSQL.
-- The target's settings are JSON (host, port, database, TLS mode, managing role, role to grant, limits,
-- access mode); the managing role's password is an AES-GCM ciphertext, sealed like channel secrets.
ALTER TABLE targets DROP CONSTRAINT targets_kind_check;
ALTER TABLE targets ADD CONSTRAINT targets_kind_check CHECK (kind IN ('token', 'postgres'));
ALTER TABLE targets ADD COLUMN postgres jsonb;
ALTER TABLE targets ADD COLUMN managing_password_enc bytea;
ALTER TABLE targets ADD CONSTRAINT targets_postgres_settings
    CHECK ((kind = 'postgres') = (postgres IS NOT NULL AND managing_password_enc IS NOT NULL));

-- A session whose credential could not be issued is closed as failed (nothing usable was handed out).
ALTER TABLE sessions DROP CONSTRAINT sessions_state_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_state_check CHECK (state IN ('active', 'expired', 'ended', 'revoked', 'failed'));
