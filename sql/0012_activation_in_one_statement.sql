-- Breaking glass in one statement, for the common case: the broker has read the requester, their token and the
-- target without locking them and decided, and this writes the activation only if none of the three rows changed
-- since (their xmin is the same): the spent TOTP step, the session, its retro obligation, its page and its audit
-- event, linked to the shard's head here, so the head is locked only for this statement and its commit rather than
-- across the broker's decision. The event's body comes in two parts around its seq, which only the locked head
-- gives; the link is sha256(prev_hash || '\n' || body) in hex, as AuditChain.link computes it. Anything else (a row
-- changed, the step already spent) writes nothing and returns false: the broker then decides again under locks.
-- One statement outside a transaction block commits or rolls back whole, at the Sync that follows it: by then the
-- caller has its result, and postgres-nio does not report an error that comes after the result. So nothing may fail at
-- commit: deferred constraints are checked here, before returning, and under SERIALIZABLE (whose commit can fail) the
-- function declines, leaving the activation to the locked transaction and its explicit COMMIT. Names resolve through
-- the caller's search_path, as in every other statement the broker runs.
CREATE FUNCTION breakglass_activate(
    p_user uuid, p_user_version text, p_token_hash bytea, p_token_version text, p_target text, p_target_version text, p_step bigint,
    p_session text, p_credential_kind text, p_reason text, p_incident text, p_state text, p_activated_at timestamptz,
    p_expires_at timestamptz, p_hard_limit timestamptz, p_retro_due_at timestamptz, p_extensions bigint, p_credential_ref jsonb,
    p_client_address text, p_user_agent text, p_drill boolean,
    p_obligation_status text, p_window_start timestamptz, p_due_at timestamptz, p_ladder jsonb, p_next_level bigint,
    p_next_due_at timestamptz,
    p_page_id uuid, p_page_type text, p_page_target text, p_page_keys text[], p_page_values text[], p_page_created_at timestamptz,
    p_shard bigint, p_occurred_at timestamptz, p_body_before_seq text, p_body_after_seq text
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    head record;
    body text;
    link text;
BEGIN
    IF current_setting('transaction_isolation') = 'serializable' THEN
        RETURN false;
    END IF;
    -- Heads are never deleted, so one seen here is there to lock below; a missing one is the locked path's error to report.
    PERFORM 1 FROM audit_chain_heads WHERE shard = p_shard;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- The requester's row first, as every use case locks it before a chain head.
    UPDATE users SET totp_last_step = p_step
    WHERE id = p_user AND xmin::text = p_user_version AND totp_last_step < p_step
      AND EXISTS (SELECT 1 FROM api_tokens WHERE token_hash = p_token_hash AND xmin::text = p_token_version AND revoked_at IS NULL)
      AND EXISTS (SELECT 1 FROM targets WHERE name = p_target AND xmin::text = p_target_version);
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT seq, hash INTO head FROM audit_chain_heads WHERE shard = p_shard FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit chain head for shard % is missing', p_shard;
    END IF;
    body := p_body_before_seq || (head.seq + 1)::text || p_body_after_seq;
    link := encode(sha256(convert_to(head.hash || E'\n' || body, 'UTF8')), 'hex');
    INSERT INTO sessions (id, user_id, target, credential_kind, reason, incident, state, activated_at, expires_at, hard_limit,
                          retro_due_at, extensions, credential_ref, client_address, user_agent, drill)
    VALUES (p_session, p_user, p_target, p_credential_kind, p_reason, p_incident, p_state, p_activated_at, p_expires_at, p_hard_limit,
            p_retro_due_at, p_extensions, p_credential_ref, p_client_address, p_user_agent, p_drill);
    INSERT INTO retro_obligations (session_id, status, window_start, due_at, ladder, next_level, next_due_at)
    VALUES (p_session, p_obligation_status, p_window_start, p_due_at, p_ladder, p_next_level, p_next_due_at);
    INSERT INTO outbox (id, event_type, session_id, target, payload, created_at, fanned_out_at)
    VALUES (p_page_id, p_page_type, p_session, p_page_target, jsonb_object(p_page_keys, p_page_values), p_page_created_at, NULL);
    INSERT INTO audit_events (shard, seq, occurred_at, body, prev_hash, hash)
    VALUES (p_shard, head.seq + 1, p_occurred_at, body, head.hash, link);
    UPDATE audit_chain_heads SET seq = head.seq + 1, hash = link WHERE shard = p_shard;
    -- A deferred constraint (none of ours is, but an operator may add one) fails here, inside the statement, not at commit.
    SET CONSTRAINTS ALL IMMEDIATE;
    RETURN true;
END
$$;

-- Only the broker's own role calls it.
REVOKE ALL ON FUNCTION breakglass_activate FROM PUBLIC;
GRANT EXECUTE ON FUNCTION breakglass_activate TO breakglass_app;
