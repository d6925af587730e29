-- The list of threads (GET /admin/runs, logctl threads): one summary row per thread, kept exact
-- by statement-level triggers on thread_logs, whoever writes (the hub's COPY batches or plain
-- SQL). A trigger never updates a shared row: it appends its statement's sums per thread to
-- thread_log_summary_delta (so writers of one thread never wait for each other), and
-- logctl_summary_compact(), run before each read, folds the committed deltas into
-- thread_log_summary. Rows whose thread_id is NULL are not listed (they have no thread to name).
-- Levels are counted as core/records.py normalises them: WARNING→WARN, CRITICAL/FATAL/ERR→ERROR,
-- TRACE/NOTSET→DEBUG, NULL and anything else→INFO. See docs/architecture.md, "The list of threads".
CREATE TABLE IF NOT EXISTS thread_log_summary (
    thread_id TEXT PRIMARY KEY,
    first_at TIMESTAMP WITH TIME ZONE,
    last_at TIMESTAMP WITH TIME ZONE,
    count BIGINT NOT NULL,
    debug BIGINT NOT NULL DEFAULT 0,
    info BIGINT NOT NULL DEFAULT 0,
    warn BIGINT NOT NULL DEFAULT 0,
    error BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_thread_log_summary_last ON thread_log_summary (last_at DESC NULLS LAST, thread_id DESC);

-- Sums of one statement for one thread: positive after an INSERT; negative after a DELETE, with
-- recheck set, since the rows removed may have held the thread's first or last time.
CREATE TABLE IF NOT EXISTS thread_log_summary_delta (
    thread_id TEXT NOT NULL,
    first_at TIMESTAMP WITH TIME ZONE,
    last_at TIMESTAMP WITH TIME ZONE,
    count BIGINT NOT NULL,
    debug BIGINT NOT NULL,
    info BIGINT NOT NULL,
    warn BIGINT NOT NULL,
    error BIGINT NOT NULL,
    recheck BOOLEAN NOT NULL
);

CREATE OR REPLACE FUNCTION logctl_level(level TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN level IN ('DEBUG', 'INFO', 'WARN', 'ERROR') THEN level ELSE CASE upper(btrim(coalesce(level, 'INFO')))
        WHEN 'DEBUG' THEN 'DEBUG' WHEN 'TRACE' THEN 'DEBUG' WHEN 'NOTSET' THEN 'DEBUG'
        WHEN 'WARN' THEN 'WARN' WHEN 'WARNING' THEN 'WARN'
        WHEN 'ERROR' THEN 'ERROR' WHEN 'ERR' THEN 'ERROR' WHEN 'CRITICAL' THEN 'ERROR' WHEN 'FATAL' THEN 'ERROR'
        ELSE 'INFO' END END
$$;

CREATE OR REPLACE FUNCTION logctl_summary_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_log_summary_delta
    SELECT thread_id, min(created_at), max(created_at), count(*),
           count(*) FILTER (WHERE lv = 'DEBUG'), count(*) FILTER (WHERE lv = 'INFO'),
           count(*) FILTER (WHERE lv = 'WARN'), count(*) FILTER (WHERE lv = 'ERROR'), false
    FROM (SELECT thread_id, created_at, logctl_level(level) AS lv FROM logctl_new_rows WHERE thread_id IS NOT NULL) r
    GROUP BY thread_id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION logctl_summary_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_log_summary_delta
    SELECT thread_id, NULL, NULL, -count(*),
           -count(*) FILTER (WHERE lv = 'DEBUG'), -count(*) FILTER (WHERE lv = 'INFO'),
           -count(*) FILTER (WHERE lv = 'WARN'), -count(*) FILTER (WHERE lv = 'ERROR'), true
    FROM (SELECT thread_id, logctl_level(level) AS lv FROM logctl_old_rows WHERE thread_id IS NOT NULL) r
    GROUP BY thread_id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION logctl_summary_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM thread_log_summary_delta;
    DELETE FROM thread_log_summary;
    RETURN NULL;
END
$$;

-- Fold the committed deltas into thread_log_summary. Each delta row is taken by exactly one
-- caller (a concurrent DELETE waits for the row, then skips it); summary rows are locked in
-- thread_id order; a thread left with no row is deleted; where rows were removed, the first and
-- last times are read again through idx_thread_logs_thread_time. Returns the deltas folded.
CREATE OR REPLACE FUNCTION logctl_summary_compact() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS logctl_folding (LIKE thread_log_summary_delta) ON COMMIT DROP;
    WITH taken AS (DELETE FROM thread_log_summary_delta RETURNING *)
    INSERT INTO logctl_folding SELECT * FROM taken;
    GET DIAGNOSTICS folded = ROW_COUNT;
    IF folded = 0 THEN
        DROP TABLE logctl_folding;
        RETURN 0;
    END IF;
    INSERT INTO thread_log_summary AS s (thread_id, first_at, last_at, count, debug, info, warn, error)
    SELECT thread_id, min(first_at), max(last_at), sum(count), sum(debug), sum(info), sum(warn), sum(error)
    FROM logctl_folding GROUP BY thread_id ORDER BY thread_id
    ON CONFLICT (thread_id) DO UPDATE SET
        first_at = least(s.first_at, EXCLUDED.first_at),
        last_at = greatest(s.last_at, EXCLUDED.last_at),
        count = s.count + EXCLUDED.count,
        debug = s.debug + EXCLUDED.debug,
        info = s.info + EXCLUDED.info,
        warn = s.warn + EXCLUDED.warn,
        error = s.error + EXCLUDED.error;
    DELETE FROM thread_log_summary s
    WHERE s.count <= 0 AND s.thread_id IN (SELECT thread_id FROM logctl_folding WHERE recheck);
    UPDATE thread_log_summary s SET
        first_at = (SELECT min(t.created_at) FROM thread_logs t WHERE t.thread_id = s.thread_id),
        last_at = (SELECT max(t.created_at) FROM thread_logs t WHERE t.thread_id = s.thread_id)
    WHERE s.thread_id IN (SELECT thread_id FROM logctl_folding WHERE recheck);
    DROP TABLE logctl_folding;
    RETURN folded;
END
$$;

DROP TRIGGER IF EXISTS thread_logs_summary_insert ON thread_logs;
CREATE TRIGGER thread_logs_summary_insert AFTER INSERT ON thread_logs
    REFERENCING NEW TABLE AS logctl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION logctl_summary_add();
DROP TRIGGER IF EXISTS thread_logs_summary_delete ON thread_logs;
CREATE TRIGGER thread_logs_summary_delete AFTER DELETE ON thread_logs
    REFERENCING OLD TABLE AS logctl_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION logctl_summary_remove();
-- An UPDATE is a removal of the old rows and an insertion of the new ones (two triggers, in
-- name order: _update_1 removes, _update_2 adds).
DROP TRIGGER IF EXISTS thread_logs_summary_update_1 ON thread_logs;
CREATE TRIGGER thread_logs_summary_update_1 AFTER UPDATE ON thread_logs
    REFERENCING OLD TABLE AS logctl_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION logctl_summary_remove();
DROP TRIGGER IF EXISTS thread_logs_summary_update_2 ON thread_logs;
CREATE TRIGGER thread_logs_summary_update_2 AFTER UPDATE ON thread_logs
    REFERENCING NEW TABLE AS logctl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION logctl_summary_add();
DROP TRIGGER IF EXISTS thread_logs_summary_truncate ON thread_logs;
CREATE TRIGGER thread_logs_summary_truncate AFTER TRUNCATE ON thread_logs
    FOR EACH STATEMENT EXECUTE FUNCTION logctl_summary_clear();

-- Back-fill, under the lock CREATE TRIGGER holds until this migration commits (no insert can
-- slip between the triggers and this count).
DELETE FROM thread_log_summary_delta;
DELETE FROM thread_log_summary;
INSERT INTO thread_log_summary (thread_id, first_at, last_at, count, debug, info, warn, error)
SELECT thread_id, min(created_at), max(created_at), count(*),
       count(*) FILTER (WHERE logctl_level(level) = 'DEBUG'),
       count(*) FILTER (WHERE logctl_level(level) = 'INFO'),
       count(*) FILTER (WHERE logctl_level(level) = 'WARN'),
       count(*) FILTER (WHERE logctl_level(level) = 'ERROR')
FROM thread_logs WHERE thread_id IS NOT NULL GROUP BY thread_id;
