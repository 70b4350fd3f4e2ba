-- `recorded` access to a postgres target: the engineer connects through the broker's PostgreSQL proxy
-- with a proxy token bound to the session; the proxy logs in to the target as the session's role with a
-- password the engineer never sees. Only the token's SHA-256 is kept; the role's password is an AES-GCM
-- ciphertext sealed to the session (like channel secrets), and both go when the session closes.
CREATE TABLE session_proxy_credentials (
    session_id        text PRIMARY KEY REFERENCES sessions(id),
    token_hash        bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    role_password_enc bytea NOT NULL,
    created_at        timestamptz NOT NULL
);
GRANT SELECT, INSERT, DELETE ON session_proxy_credentials TO breakglass_app;
