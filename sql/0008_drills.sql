-- Drills: rehearsals of the whole break-glass path (PCI DSS 12.10.2). A drill is an ordinary session with
-- this flag; its retro obligation carries a compressed deadline and ladder, its pages are marked DRILL, and
-- every real figure (compliance queue, /metrics) leaves it out.
ALTER TABLE sessions ADD COLUMN drill boolean NOT NULL DEFAULT false;

-- A drill's retro deadline per target (NULL: the broker's default, 2 minutes). Real sessions keep their
-- deadline of at least an hour (retro_deadline_seconds); only drills may run shorter.
ALTER TABLE targets ADD COLUMN drill_deadline_seconds integer
    CHECK (drill_deadline_seconds >= 60 AND drill_deadline_seconds < 3600);

-- Drills are few; the real queue and figures filter them out without scanning for them.
CREATE INDEX sessions_drill ON sessions (id) WHERE drill;

-- Both tables are already granted to breakglass_app (SELECT, INSERT, UPDATE); new columns need nothing more.
