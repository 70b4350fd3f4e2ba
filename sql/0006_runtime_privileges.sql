-- The runtime role keeps only what the server's code needs; 0005's placeholder ladders are repaired; deliveries
-- in flight are indexed for the lane check of the claim.

-- Only the schema owner creates objects in the broker's schema. Clusters created before PostgreSQL 15 (or
-- upgraded from one) still let every role create tables in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- breakglass_app deletes only where the server deletes: unused enrolment codes when a new one is issued,
-- and TOTP failures once an account is unlocked or re-enrolled. Sessions, obligations, reviews, pages and
-- their attempts are evidence: the server records a later state, it never removes a row.
REVOKE DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM breakglass_app;
GRANT DELETE ON enrollment_codes, totp_failures TO breakglass_app;

-- 0005 gave sessions that existed before it the ladder '[]', which is not an escalation ladder (a ladder is
-- {"rungs": [...]}), so every read of those obligations failed. They have no rungs: nothing is paged
-- retroactively, so none is ever due.
UPDATE retro_obligations SET ladder = '{"rungs": []}'::jsonb, next_due_at = NULL WHERE ladder = '[]'::jsonb;

-- Deliveries in flight, which the claim consults to keep each (channel, session) lane in order. Few rows:
-- a claim is cleared when its send is recorded.
CREATE INDEX deliveries_in_flight ON deliveries (channel_id) WHERE claimed_until IS NOT NULL AND state = 'pending';
