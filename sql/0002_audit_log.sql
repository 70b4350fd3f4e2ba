-- Append-only, hash-chained audit log. The log is split into 16 independent chains ("shards") so that
-- concurrent writers for different sessions do not queue on one head lock. `body` is the exact canonical
-- JSON that was hashed; the queryable columns are generated from it so they cannot drift from it.

CREATE TABLE audit_events (
    id           bigserial PRIMARY KEY,
    shard        smallint NOT NULL CHECK (shard >= 0 AND shard < 16),
    seq          bigint NOT NULL CHECK (seq > 0),
    occurred_at  timestamptz NOT NULL,
    body         text NOT NULL,
    prev_hash    text NOT NULL,
    hash         text NOT NULL,
    event_type   text GENERATED ALWAYS AS ((body::jsonb) -> 'event' ->> 'type') STORED,
    actor        text GENERATED ALWAYS AS ((body::jsonb) -> 'event' ->> 'actor') STORED,
    session_id   text GENERATED ALWAYS AS ((body::jsonb) -> 'event' ->> 'sessionId') STORED,
    UNIQUE (shard, seq)
);
CREATE INDEX audit_events_time ON audit_events (occurred_at);
CREATE INDEX audit_events_session ON audit_events (session_id) WHERE session_id IS NOT NULL;

-- The newest link of each shard, updated in the same transaction as the append. Its row lock is what
-- orders appends within one shard.
CREATE TABLE audit_chain_heads (
    shard  smallint PRIMARY KEY CHECK (shard >= 0 AND shard < 16),
    seq    bigint NOT NULL,
    hash   text NOT NULL
);
INSERT INTO audit_chain_heads (shard, seq, hash)
SELECT s, 0, repeat('0', 64) FROM generate_series(0, 15) AS s;

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
