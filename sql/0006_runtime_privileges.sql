-- The runtime role keeps only what the server's code needs.

-- Only the schema owner creates objects in the broker's schema. Clusters created before PostgreSQL 15 (or
-- upgraded from one) still let every role create tables in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- breakglass_app deletes only where the server deletes: unused enrolment codes when a new one is issued,
-- and TOTP failures once an account is unlocked or re-enrolled. Sessions, obligations, reviews, pages and
-- their attempts are evidence: the server records a later state, it never removes a row.
REVOKE DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM breakglass_app;
GRANT DELETE ON enrollment_codes, totp_failures TO breakglass_app;
