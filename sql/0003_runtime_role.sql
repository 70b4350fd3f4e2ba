-- The server runs as a login role that is a member of breakglass_app. It owns nothing, so it cannot
-- alter tables or disable triggers, and on the audit log it may only read and append.

DO $$
BEGIN
    CREATE ROLE breakglass_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- shared by every database on the cluster; another database created it first
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
