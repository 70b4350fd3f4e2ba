-- Trust hardening: expiring API tokens, web sessions bound to the token that opened them, admin pages
-- delivered through channels as they were before the change, GitHub PR candidates, dismissed reviews.

-- API tokens expire. Tokens issued before this migration get 30 days from their creation, but at least
-- 7 days from the upgrade, so an upgrade does not sign everyone out at once.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
UPDATE api_tokens SET expires_at = greatest(created_at + interval '30 days', now() + interval '7 days');
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
ALTER TABLE api_tokens ADD COLUMN revoked_by text;
ALTER TABLE api_tokens ADD COLUMN issued_via text NOT NULL DEFAULT 'enrollment' CHECK (issued_via IN ('enrollment', 'login'));

-- Failed codes at `login` (which anyone can call with a user name) throttle only `login`: they must not
-- lock the account, or anyone could lock out any engineer during an incident.
ALTER TABLE totp_failures ADD COLUMN source text NOT NULL DEFAULT 'proof' CHECK (source IN ('proof', 'login'));

-- A browser session lives no longer than the API token its ticket was issued with: revoking the token
-- (a lost laptop) ends the browser session too.
ALTER TABLE web_logins ADD COLUMN api_token_hash bytea;

-- A page about an admin change goes out through each channel as it was configured before the change, so
-- repointing a channel announces itself on the old endpoint. NULL: the channel's current configuration.
ALTER TABLE deliveries ADD COLUMN snapshot_kind text CHECK (snapshot_kind IN ('slack', 'pagerduty', 'webhook'));
ALTER TABLE deliveries ADD COLUMN snapshot_config_enc bytea;
ALTER TABLE deliveries ADD COLUMN snapshot_host text;

-- Pull requests that name a session but may not link themselves (another author, a fork, a repository not
-- on the allow-list). Compliance sees them and may accept one.
CREATE TABLE retro_candidates (
    session_id   text NOT NULL REFERENCES retro_obligations(session_id),
    pr_url       text NOT NULL,
    pr_author    text NOT NULL,
    sender       text,
    repository   text,
    reason       text NOT NULL,
    received_at  timestamptz NOT NULL,
    accepted_at  timestamptz,
    accepted_by  text,
    PRIMARY KEY (session_id, pr_url)
);

-- Reviews GitHub reported as dismissed. A dismissal is final: a late or replayed copy of the original
-- approval (same review id, new delivery id) never revives it.
CREATE TABLE github_dismissed_reviews (
    review_id     bigint PRIMARY KEY,
    pr_url        text NOT NULL,
    reviewer      text NOT NULL,
    dismissed_at  timestamptz NOT NULL
);
ALTER TABLE github_pr_reviews ADD COLUMN review_id bigint;

GRANT SELECT, INSERT, UPDATE ON retro_candidates, github_dismissed_reviews TO breakglass_app;

-- "Is a test page for this channel still waiting?" without scanning the whole outbox.
CREATE INDEX outbox_test_pages ON outbox ((payload ->> 'channel_id')) WHERE event_type = 'notify.test';
