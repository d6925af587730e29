-- Additions for the hub: a gap-free stream cursor, idempotent resends and wake-ups.
-- Only adds; rows that already exist keep every value they had.

-- Plain SQL inserts that omit created_at get the insert time.
ALTER TABLE thread_logs ALTER COLUMN created_at SET DEFAULT now();

-- The inserting transaction's id. Rows that predate this migration all get '1', which
-- orders them before every later row (by id among themselves) without rewriting the
-- table; new rows get pg_current_xact_id(). See docs/protocol.md, "Cursors".
ALTER TABLE thread_logs ADD COLUMN IF NOT EXISTS txid xid8 NOT NULL DEFAULT '1';
ALTER TABLE thread_logs ALTER COLUMN txid SET DEFAULT pg_current_xact_id();

-- Producer identity: (producer_id, seq) is unique, so a resend never doubles a row.
-- Plain SQL rows leave both NULL, and NULLs never conflict.
ALTER TABLE thread_logs ADD COLUMN IF NOT EXISTS producer_id TEXT;
ALTER TABLE thread_logs ADD COLUMN IF NOT EXISTS seq BIGINT;
CREATE UNIQUE INDEX IF NOT EXISTS idx_thread_logs_producer_seq ON thread_logs (producer_id, seq);

-- Stream order within a thread.
CREATE INDEX IF NOT EXISTS idx_thread_logs_thread_cursor ON thread_logs (thread_id, txid, id);

-- Wake listening hubs after every insert, whoever makes it (hubs or plain SQL).
-- The channel is per schema: 'logctl_<schema>'.
CREATE OR REPLACE FUNCTION logctl_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('logctl_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS thread_logs_notify ON thread_logs;
CREATE TRIGGER thread_logs_notify AFTER INSERT ON thread_logs
    FOR EACH STATEMENT EXECUTE FUNCTION logctl_notify();
