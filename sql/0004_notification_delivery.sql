-- Notification channels, routing, and per-channel deliveries with an attempt log.

CREATE TABLE channels (
    id               uuid PRIMARY KEY,
    name             text NOT NULL UNIQUE,
    kind             text NOT NULL CHECK (kind IN ('slack', 'pagerduty', 'webhook')),
    -- URL, routing key and signing secrets, AES-GCM encrypted: a webhook URL is itself a secret.
    config_enc       bytea NOT NULL,
    -- What listings and logs may show.
    host             text NOT NULL,
    events           text[] NOT NULL,
    targets          text[] NOT NULL,
    enabled          boolean NOT NULL DEFAULT true,
    disabled_reason  text,
    -- Rate limit shared by every broker instance: no send to this channel before next_send_at.
    min_interval_ms  integer NOT NULL DEFAULT 0 CHECK (min_interval_ms >= 0),
    next_send_at     timestamptz NOT NULL DEFAULT '-infinity',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    updated_by       text NOT NULL
);

CREATE TABLE deliveries (
    id               uuid PRIMARY KEY,
    outbox_id        uuid NOT NULL REFERENCES outbox(id),
    channel_id       uuid NOT NULL REFERENCES channels(id),
    state            text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    -- A claim lets one instance send; if it dies the claim lapses and another instance sends again.
    claimed_until    timestamptz,
    claimed_by       text,
    created_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    last_error       text,
    UNIQUE (outbox_id, channel_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_dead ON deliveries (finished_at) WHERE state = 'dead';

CREATE TABLE delivery_attempts (
    id              bigserial PRIMARY KEY,
    delivery_id     uuid NOT NULL REFERENCES deliveries(id),
    attempted_at    timestamptz NOT NULL,
    latency_ms      integer NOT NULL,
    status_code     integer,
    outcome         text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead', 'gone')),
    error_class     text,
    detail          text,
    instance        text NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, attempted_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON channels, deliveries, delivery_attempts TO breakglass_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO breakglass_app;
