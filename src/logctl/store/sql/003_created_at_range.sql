-- logctl:no-transaction
-- Bound created_at to what every reader can hold: from 0001-01-02 00:00 UTC up to (not
-- including) 9999-12-31 00:00 UTC, one day inside Python's datetime at each end, so a value
-- converts into any time zone (core/records.py's CREATED_AT_RANGE; validation refuses the
-- rest). NULL stays allowed, as in the seed.
--
-- Outside a transaction, statement by statement, so that a big table is never locked for a
-- full scan: the constraint is added NOT VALID (a brief lock; new rows are checked from then
-- on), rows already out of range are clamped to the nearest bound (found through the
-- created_at index), and VALIDATE then scans the table without blocking writes. Every step
-- can run again.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conname = 'thread_logs_created_at_range' AND conrelid = 'thread_logs'::regclass
    ) THEN
        ALTER TABLE thread_logs ADD CONSTRAINT thread_logs_created_at_range CHECK (
            created_at >= '0001-01-02 00:00:00+00' AND created_at < '9999-12-31 00:00:00+00'
        ) NOT VALID;
    END IF;
END
$$;

UPDATE thread_logs SET created_at = '0001-01-02 00:00:00+00' WHERE created_at < '0001-01-02 00:00:00+00';

UPDATE thread_logs SET created_at = '9999-12-30 23:59:59.999999+00' WHERE created_at >= '9999-12-31 00:00:00+00';

ALTER TABLE thread_logs VALIDATE CONSTRAINT thread_logs_created_at_range;
