-- The server runs as a login role that is a member of breakglass_app. It owns nothing, so it cannot
-- alter tables or disable triggers, and on the audit log it may only read and append.

-- Amended: a schema owner without CREATEROLE (an external database set up by a DBA, who creates
-- breakglass_app) could not run the original, which tried CREATE ROLE unconditionally. Same effect wherever
-- the original ran.
-- replaces checksum 30d58abb92dab4bc0a0ac1dade2ea63737034f70ebf281ce3eed030306c7a1e6
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'breakglass_app') THEN
        CREATE ROLE breakglass_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- shared by every database on the cluster; another database created it at the same moment
END;
$$;

GRANT USAGE ON SCHEMA public TO breakglass_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    users, enrollment_codes, api_tokens, totp_failures, targets, sessions, outbox, signing_keys
    TO breakglass_app;
GRANT SELECT, INSERT ON audit_events TO breakglass_app;
GRANT SELECT ON schema_migrations TO breakglass_app;
GRANT SELECT, UPDATE ON audit_chain_heads TO breakglass_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO breakglass_app;
REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM breakglass_app;
