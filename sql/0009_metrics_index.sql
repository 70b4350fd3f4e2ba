-- /metrics counts activations, denials, TOTP failures and lockouts from the audit log at scrape time (the
-- figures then survive restarts and agree on every instance). This index lets those counts read the rows of
-- a few event types instead of parsing every event of the log.
CREATE INDEX audit_events_type ON audit_events (event_type);
