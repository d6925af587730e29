"""Design variants of the thread summary's insert path, on the hub's COPY path, interleaved batch by batch.

Run:  .venv/bin/python bench/bench_runs_variants.py THREADS BATCHES none,v005,capture,writer1,grouped [BATCH [PAD]]

An ad hoc experiment kept to back the figures in docs/architecture.md ("Cost at insert"): one
schema per variant, batches of BATCH (default 1,000) rows over THREADS threads written to each in
a shuffled order, BATCHES times; prints each variant's median batch time, the server backend's
CPU time per batch (/proc/<pid>/schedstat, so the server must run on this machine) and the
client's, against ``none``. Variants:

  none         no summary triggers
  v005         migration 005's triggers, as shipped
  capture      an empty statement trigger with a transition table (the floor of that design)
  writer1      the writer sums its batch in Python and appends the deltas itself, in its
               transaction, with the insert trigger skipped by WHEN on a session setting
  writer_when  the same with the setting in a statement of its own
  writer_row   the writer's sums, and a row trigger with that WHEN instead of the statement trigger
  cheap        005's body with the level compared directly (no logctl_level)
  grouped      005's body grouping by (thread, level) before mapping levels
"""
import datetime as dt, statistics, sys, time, random
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import schema
import psycopg
from logctl.store import LogStore

DROP = """
DROP TRIGGER thread_logs_summary_insert ON thread_logs;
DROP TRIGGER thread_logs_summary_delete ON thread_logs;
DROP TRIGGER thread_logs_summary_update_1 ON thread_logs;
DROP TRIGGER thread_logs_summary_update_2 ON thread_logs;
DROP TRIGGER thread_logs_summary_truncate ON thread_logs;
"""
CAPTURE = DROP + """
CREATE FUNCTION nothing() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER cap AFTER INSERT ON thread_logs REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION nothing();
"""
WHENSTMT = """
DROP TRIGGER thread_logs_summary_insert ON thread_logs;
CREATE TRIGGER thread_logs_summary_insert AFTER INSERT ON thread_logs
    REFERENCING NEW TABLE AS logctl_new_rows FOR EACH STATEMENT
    WHEN (current_setting('logctl.summary_by_writer', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION logctl_summary_add();
"""
ROWWHEN = DROP + """
CREATE FUNCTION add_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER rw AFTER INSERT ON thread_logs FOR EACH ROW
    WHEN (current_setting('logctl.summary_by_writer', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION add_row();
"""
GROUPED = """
CREATE OR REPLACE FUNCTION logctl_summary_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_log_summary_delta
    SELECT thread_id, min(f), max(l), sum(n),
           coalesce(sum(n) FILTER (WHERE lv = 'DEBUG'), 0), coalesce(sum(n) FILTER (WHERE lv = 'INFO'), 0),
           coalesce(sum(n) FILTER (WHERE lv = 'WARN'), 0), coalesce(sum(n) FILTER (WHERE lv = 'ERROR'), 0), false
    FROM (SELECT thread_id, logctl_level(level) AS lv, f, l, n
          FROM (SELECT thread_id, level, min(created_at) AS f, max(created_at) AS l, count(*) AS n
                FROM logctl_new_rows WHERE thread_id IS NOT NULL GROUP BY thread_id, level OFFSET 0) g) r
    GROUP BY thread_id;
    RETURN NULL;
END
$$;
"""
CHEAP = """
CREATE OR REPLACE FUNCTION logctl_summary_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_log_summary_delta
    SELECT thread_id, min(created_at), max(created_at), count(*),
           count(*) FILTER (WHERE level = 'DEBUG'), count(*) - count(*) FILTER (WHERE level IN ('DEBUG','WARN','ERROR')),
           count(*) FILTER (WHERE level = 'WARN'), count(*) FILTER (WHERE level = 'ERROR'), false
    FROM logctl_new_rows WHERE thread_id IS NOT NULL
    GROUP BY thread_id;
    RETURN NULL;
END
$$;
"""

def writer1_insert(store, rows):
    sums = {}
    for t, _m, lv, at, _p, _s in rows:
        s = sums.get(t)
        if s is None:
            sums[t] = s = [at, at, 0, 0, 0, 0, 0]
        else:
            if at < s[0]: s[0] = at
            if at > s[1]: s[1] = at
        s[IDX[lv]] += 1
    ts = list(sums)
    cols = [ts] + [[sums[t][k] for t in ts] for k in range(7)]
    with store.pool.connection() as conn:
        with conn.transaction():
            conn.execute("INSERT INTO thread_log_summary_delta SELECT t, f, l, n, d, i, w, e, false FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::int8[], %s::int8[], %s::int8[], %s::int8[], %s::int8[]) AS u(t, f, l, n, d, i, w, e), set_config('logctl.summary_by_writer', 'on', true)", cols)
            with conn.cursor().copy("COPY thread_logs (thread_id, message, level, created_at, producer_id, seq) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(("text", "text", "text", "timestamptz", "text", "int8"))
                for r in rows:
                    copy.write_row(r)

IDX = {"DEBUG": 3, "INFO": 4, "WARN": 5, "ERROR": 6}

def writer_insert(store, rows):
    sums = {}
    for t, _m, lv, at, _p, _s in rows:
        s = sums.get(t)
        if s is None:
            sums[t] = s = [at, at, 0, 0, 0, 0, 0]
        elif at < s[0]: s[0] = at
        elif at > s[1]: s[1] = at
        s[2] += 1
        s[3 + ("DEBUG", "INFO", "WARN", "ERROR").index(lv)] += 1
    ts = list(sums)
    cols = [ts] + [[sums[t][k] for t in ts] for k in range(7)]
    with store.pool.connection() as conn:
        with conn.transaction():
            conn.execute("SELECT set_config('logctl.summary_by_writer', 'on', true)")
            with conn.cursor().copy("COPY thread_logs (thread_id, message, level, created_at, producer_id, seq) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(("text", "text", "text", "timestamptz", "text", "int8"))
                for r in rows:
                    copy.write_row(r)
            conn.execute("INSERT INTO thread_log_summary_delta SELECT *, false FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::int8[], %s::int8[], %s::int8[], %s::int8[], %s::int8[])", cols)

def main():
    threads = int(sys.argv[1]); batches = int(sys.argv[2]); names = sys.argv[3].split(",")
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    levels = ("DEBUG", "INFO", "INFO", "WARN", "ERROR")
    now = dt.datetime.now(dt.timezone.utc)
    rows = [(f"bench-{i % threads}", f"message {i} " + "x" * int(sys.argv[5] if len(sys.argv) > 5 else 0), levels[i % 5], now, None, None) for i in range(batch)]
    setups = {"none": DROP, "v005": "", "capture": CAPTURE, "writer_when": WHENSTMT, "writer1": WHENSTMT, "writer_row": ROWWHEN, "cheap": CHEAP, "grouped": GROUPED, "v005b": ""}
    server = __import__("os").environ.get("LOGCTL_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    from contextlib import ExitStack
    with ExitStack() as st:
        stores = {}
        for n in names:
            dsn = st.enter_context(schema(server))
            s = st.enter_context(LogStore(dsn, max_size=1))
            if setups[n]:
                with s.connection() as c: c.execute(setups[n])
            stores[n] = s
        times = {n: [] for n in names}
        cpu = {n: [] for n in names}
        pids = {}
        for n in names:
            with stores[n].pool.connection() as c: pids[n] = c.info.backend_pid
        def on_cpu(pid):
            with open(f"/proc/{pid}/schedstat") as f: return int(f.read().split()[0])
        order = list(names)
        for b in range(batches):
            random.shuffle(order)
            for n in order:
                c0 = on_cpu(pids[n]); tc0 = time.thread_time_ns()
                t0 = time.perf_counter()
                if n.startswith("writer1"):
                    writer1_insert(stores[n], rows)
                elif n.startswith("writer"):
                    writer_insert(stores[n], rows)
                else:
                    stores[n].insert_rows(rows)
                times[n].append(time.perf_counter() - t0)
                cpu[n].append((on_cpu(pids[n]) - c0, time.thread_time_ns() - tc0))
        base = statistics.median(times["none"])
        for n in names:
            m = statistics.median(times[n])
            sc = sum(a for a, _ in cpu[n]) / len(cpu[n]); cc = sum(b for _, b in cpu[n]) / len(cpu[n])
            sb = sum(a for a, _ in cpu["none"]) / len(cpu["none"]); cb = sum(b for _, b in cpu["none"]) / len(cpu["none"])
            print(f"{n:>12}: median {m*1000:.3f} ms  {100*(m/base-1):+.1f} %   server cpu {sc/1e6:.3f} ms {100*(sc/sb-1):+.1f} %  client cpu {cc/1e6:.3f} ms  total {100*((sc+cc)/(sb+cb)-1):+.1f} %")

if __name__ == "__main__":
    main()
