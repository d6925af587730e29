-- Folding the thread summary's deltas (005) in the background. See docs/architecture.md, "The
-- list of threads".
--
-- logctl_summary_compact(max_deltas) folds without a temporary table (005's created and dropped
-- one on every call, even with nothing to fold: catalog writes on every read), at most
-- max_deltas deltas per call (NULL: all), and skips deltas another folder holds (SKIP LOCKED)
-- instead of waiting for it. Readers no longer fold: they add the pending deltas to the summary
-- as they read (logctl.store.runs), and hubs fold in the background, one at a time per schema
-- (logctl.store.runs.fold_summary, hub/summary.py). Only functions change here: the triggers and
-- tables of 005 stay as they are, on a plain or a partitioned thread_logs alike.

DROP FUNCTION IF EXISTS logctl_summary_compact();
CREATE FUNCTION logctl_summary_compact(max_deltas integer DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
    rechecks text[];
BEGIN
    -- Take the deltas (each by exactly one folder: a row another folder has locked is skipped),
    -- and upsert their sums per thread, in thread_id order.
    WITH taken AS (
        DELETE FROM thread_log_summary_delta
        WHERE ctid = ANY (ARRAY(SELECT ctid FROM thread_log_summary_delta LIMIT max_deltas FOR UPDATE SKIP LOCKED))
        RETURNING *
    ), sums AS (
        SELECT thread_id, min(first_at) AS first_at, max(last_at) AS last_at, sum(count) AS count,
               sum(debug) AS debug, sum(info) AS info, sum(warn) AS warn, sum(error) AS error,
               bool_or(recheck) AS recheck, count(*) AS deltas
        FROM taken GROUP BY thread_id
    ), upserted AS (
        INSERT INTO thread_log_summary AS s (thread_id, first_at, last_at, count, debug, info, warn, error)
        SELECT thread_id, first_at, last_at, count, debug, info, warn, error FROM sums ORDER BY thread_id
        ON CONFLICT (thread_id) DO UPDATE SET
            first_at = least(s.first_at, EXCLUDED.first_at),
            last_at = greatest(s.last_at, EXCLUDED.last_at),
            count = s.count + EXCLUDED.count,
            debug = s.debug + EXCLUDED.debug,
            info = s.info + EXCLUDED.info,
            warn = s.warn + EXCLUDED.warn,
            error = s.error + EXCLUDED.error
        RETURNING 1
    )
    SELECT coalesce(sum(deltas), 0), array_agg(thread_id) FILTER (WHERE recheck) INTO folded, rechecks FROM sums;
    -- Threads that lost rows: gone if none is left, else their first and last times read again
    -- (the rows removed may have held them), through idx_thread_logs_thread_time.
    IF rechecks IS NOT NULL THEN
        DELETE FROM thread_log_summary WHERE thread_id = ANY (rechecks) AND count <= 0;
        UPDATE thread_log_summary s SET
            first_at = (SELECT min(t.created_at) FROM thread_logs t WHERE t.thread_id = s.thread_id),
            last_at = (SELECT max(t.created_at) FROM thread_logs t WHERE t.thread_id = s.thread_id)
        WHERE s.thread_id = ANY (rechecks);
    END IF;
    RETURN folded;
END
$$;

-- The delta table is a queue: every row is soon deleted. Vacuum it after 1,000 dead or inserted
-- rows whatever its size, without cost delay, so that a read (which scans it whole) does not
-- crawl through pages of dead rows for a minute after a burst; and never plan a parallel scan
-- of it. The folder also vacuums it after folding many deltas (logctl.store.runs.fold_summary).
ALTER TABLE thread_log_summary_delta SET (
    autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_cost_delay = 0, parallel_workers = 0
);
