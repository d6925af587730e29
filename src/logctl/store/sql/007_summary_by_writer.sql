-- The hub's writer sums its own batches. The insert trigger of 005 copies every inserted row into
-- a transition table and aggregates it in PL/pgSQL: about 0.6 µs a row, 8-10 % of the server's
-- CPU on the hub's COPY path. A writer that appends its batch's per-thread sums to
-- thread_log_summary_delta itself, in the batch's transaction (logctl.store.logs,
-- core/batch_sums.py), first sets logctl.summary_by_writer to 'on' for that transaction only
-- (set_config(…, true)), and the trigger then skips its statement. Every other writer (plain
-- SQL, psql, the original design's INSERT per record) is summed by the trigger as before; never
-- set the setting unless you append the deltas yourself. PostgreSQL still fills the transition
-- table (a statement trigger's WHEN is checked once the statement is done), which is the part of
-- the cost that remains. See docs/architecture.md, "The list of threads".
DROP TRIGGER IF EXISTS thread_logs_summary_insert ON thread_logs;
CREATE TRIGGER thread_logs_summary_insert AFTER INSERT ON thread_logs
    REFERENCING NEW TABLE AS logctl_new_rows FOR EACH STATEMENT
    WHEN (current_setting('logctl.summary_by_writer', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION logctl_summary_add();
