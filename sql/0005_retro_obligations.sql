-- Retroactive pull requests: one obligation per activated session, its escalation ladder, GitHub
-- reconciliation and the compliance review.

-- Commit order of outbox messages (several share one created_at when written in one transaction), so a
-- session's pages reach each channel in the order they were written: level 1 before level 2.
ALTER TABLE outbox ADD COLUMN seq bigserial;

-- Whether a target's retro deadline runs from activation or from the session's end.
ALTER TABLE targets ADD COLUMN retro_deadline_from text NOT NULL DEFAULT 'activation'
    CHECK (retro_deadline_from IN ('activation', 'end'));

-- The GitHub account of a user, for separation of duties on PR approvals (their own approval never counts).
ALTER TABLE users ADD COLUMN github_login text;
CREATE UNIQUE INDEX users_github_login ON users (lower(github_login)) WHERE github_login IS NOT NULL;

CREATE TABLE retro_obligations (
    session_id      text PRIMARY KEY REFERENCES sessions(id),
    status          text NOT NULL CHECK (status IN ('owed', 'linked', 'approved', 'waived')),
    -- The SLA window: from activation (or session end) to the deadline.
    window_start    timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    -- The ladder as configured when the session was activated, so a later change never re-fires or skips a rung.
    ladder          jsonb NOT NULL,
    -- Index of the next rung of `ladder`; rungs below it have fired (or were skipped, with an audit event).
    next_level      integer NOT NULL DEFAULT 0,
    -- When that rung is due; NULL while the ladder is stopped (linked, approved, waived) or exhausted.
    next_due_at     timestamptz,
    pr_url          text,
    pr_source       text CHECK (pr_source IN ('cli', 'github')),
    linked_at       timestamptz,
    linked_by       text,
    first_linked_at timestamptz,
    pr_author       text,
    merged_at       timestamptz,
    merge_commit    text,
    merged_by       text,
    pr_approvers    text[] NOT NULL DEFAULT '{}',
    -- Whether someone other than the requester (and the PR author) approved the PR on GitHub.
    independent_approval boolean,
    reviewed_at     timestamptz,
    reviewed_by     text,
    review_note     text,
    last_rejection  text
);
-- The scheduler reads only what is due, however long the history.
CREATE INDEX retro_obligations_next_due ON retro_obligations (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX retro_obligations_open ON retro_obligations (status, due_at) WHERE status IN ('owed', 'linked');
CREATE INDEX retro_obligations_pr ON retro_obligations (pr_url) WHERE pr_url IS NOT NULL;

-- One row per rung per obligation: the primary key makes a second firing impossible, whichever instance tries.
CREATE TABLE retro_escalations (
    session_id    text NOT NULL REFERENCES retro_obligations(session_id),
    level         integer NOT NULL,
    rung          text NOT NULL,
    scheduled_at  timestamptz NOT NULL,
    fired_at      timestamptz NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('paged', 'skipped')),
    PRIMARY KEY (session_id, level)
);

-- Every compliance decision, in order; the obligation row holds only the latest.
CREATE TABLE retro_reviews (
    id          bigserial PRIMARY KEY,
    session_id  text NOT NULL REFERENCES retro_obligations(session_id),
    decision    text NOT NULL CHECK (decision IN ('approved', 'rejected', 'waived')),
    reviewer    text NOT NULL,
    note        text NOT NULL,
    pr_url      text,
    decided_at  timestamptz NOT NULL
);
CREATE INDEX retro_reviews_session ON retro_reviews (session_id, id);

-- GitHub deliveries already processed, so a redelivery (same X-GitHub-Delivery) changes nothing.
CREATE TABLE github_deliveries (
    delivery_id  text PRIMARY KEY,
    event        text NOT NULL,
    received_at  timestamptz NOT NULL,
    outcome      text NOT NULL
);

-- The latest review state of each reviewer on each PR, as GitHub reported it.
CREATE TABLE github_pr_reviews (
    pr_url        text NOT NULL,
    reviewer      text NOT NULL,
    state         text NOT NULL,
    submitted_at  timestamptz NOT NULL,
    PRIMARY KEY (pr_url, reviewer)
);

-- Browser sign-in for the read-only compliance pages: a one-time ticket from the CLI becomes a cookie.
-- Only hashes are stored.
CREATE TABLE web_logins (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id),
    kind        text NOT NULL CHECK (kind IN ('ticket', 'session')),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

-- Sessions activated before this migration owe their retro PR too; they get no ladder (nothing is paged
-- retroactively) but appear in the compliance queue.
INSERT INTO retro_obligations (session_id, status, window_start, due_at, ladder)
SELECT id, 'owed', activated_at, retro_due_at, '[]'::jsonb FROM sessions;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    retro_obligations, retro_escalations, retro_reviews, github_deliveries, github_pr_reviews, web_logins
    TO breakglass_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO breakglass_app;
