"""Hub counters, their Prometheus text rendering, and the health verdict."""

from __future__ import annotations

import dataclasses

__all__ = ["HubMetrics", "health_writes", "render_prometheus"]

BATCH_BUCKETS = (1, 10, 100, 1000, 5000, 20000)


@dataclasses.dataclass(slots=True)
class HubMetrics:
    """Counters owned by the hub; mutated only on its event loop or writer thread."""

    records_in: int = 0
    records_rejected: int = 0
    records_committed: int = 0
    records_duplicate: int = 0
    records_broadcast: int = 0
    records_pending_broadcast: int = 0
    frames_in: int = 0
    frame_errors: int = 0
    batches: int = 0
    batch_records_sum: int = 0
    batch_buckets: list[int] = dataclasses.field(default_factory=lambda: [0] * len(BATCH_BUCKETS))
    write_failures: int = 0
    records_write_rejected: int = 0
    slow_subscribers_closed: int = 0
    internal_errors: int = 0
    #: Limits hit (docs/operations.md, "Limits").
    limit_records_per_frame: int = 0
    limit_errors_per_frame: int = 0
    limit_backlog: int = 0
    limit_frame_bytes: int = 0
    threads_unreadable: int = 0
    limit_subscriptions: int = 0
    limit_selection_threads: int = 0
    limit_match_threads: int = 0
    limit_catch_up_hold: int = 0
    limit_outgoing_bytes: int = 0
    #: Requests, handshakes and frames refused by the access rules, by reason (docs/security.md).
    auth_refused: dict[str, int] = dataclasses.field(default_factory=dict)

    def refused(self, reason: str) -> None:
        self.auth_refused[reason] = self.auth_refused.get(reason, 0) + 1

    def observe_batch(self, size: int, inserted: int) -> None:
        self.batches += 1
        self.batch_records_sum += size
        self.records_committed += inserted
        self.records_duplicate += size - inserted
        for i, bound in enumerate(BATCH_BUCKETS):
            if size <= bound:
                self.batch_buckets[i] += 1
                break


def health_writes(*, writer_alive: bool, database_up: bool, oldest_wait: float, max_wait: float) -> str:
    """The ``writes`` verdict of ``/healthz``: ``up`` only when records are being written in time.

    ``stopped``: the writer thread is not running; ``failing``: the last write failed;
    ``stalled``: the oldest accepted record has waited more than ``max_wait`` seconds.
    """
    if not writer_alive:
        return "stopped"
    if not database_up:
        return "failing"
    if oldest_wait > max_wait:
        return "stalled"
    return "up"


def render_prometheus(
    m: HubMetrics,
    *,
    backlog: int,
    subscribers: int,
    connections: int,
    database_up: bool,
    writer_alive: bool = True,
    oldest_unwritten_seconds: float = 0.0,
) -> str:
    """The ``/metrics`` body in the Prometheus text exposition format."""
    lines: list[str] = []

    def counter(name: str, help_: str, value: int) -> None:
        lines.extend([f"# HELP logctl_{name} {help_}", f"# TYPE logctl_{name} counter", f"logctl_{name} {value}"])

    def gauge(name: str, help_: str, value: int) -> None:
        lines.extend([f"# HELP logctl_{name} {help_}", f"# TYPE logctl_{name} gauge", f"logctl_{name} {value}"])

    counter("records_received_total", "Valid records received from producers.", m.records_in)
    counter("records_rejected_total", "Records refused by validation.", m.records_rejected)
    counter("records_committed_total", "Records committed to PostgreSQL.", m.records_committed)
    counter("records_duplicate_total", "Resent records already stored (skipped).", m.records_duplicate)
    counter("records_broadcast_total", "Committed records sent to subscribers (per subscriber).", m.records_broadcast)
    counter("records_pending_broadcast_total", "Uncommitted records broadcast during a database outage.", m.records_pending_broadcast)
    counter("frames_received_total", "WebSocket frames received.", m.frames_in)
    counter("frame_errors_total", "Frames answered with an error.", m.frame_errors)
    counter("write_failures_total", "Failed batch writes (retried).", m.write_failures)
    counter("slow_subscribers_closed_total", "Subscribers closed because they could not keep up.", m.slow_subscribers_closed)
    counter("records_write_rejected_total", "Records the database refused (each isolated from its batch and answered with an error).", m.records_write_rejected)
    counter("internal_errors_total", "Unexpected errors: frames that raised (answered with internal_error), and feed wake-ups that raised.", m.internal_errors)
    counter("limit_records_per_frame_total", "Publish frames refused for holding more than --max-records-per-frame records.", m.limit_records_per_frame)
    counter("limit_errors_per_frame_total", "Publish frames whose error frames were cut at --max-errors-per-frame.", m.limit_errors_per_frame)
    counter("limit_backlog_total", "Publish frames that waited for room in the backlog (--max-backlog).", m.limit_backlog)
    counter("limit_frame_bytes_total", "Connections closed (1009) for a frame over --max-frame-bytes.", m.limit_frame_bytes)
    counter("threads_unreadable_total", "Times a subscribed thread's rows could not be read and its subscribers were told (the others went on).", m.threads_unreadable)
    counter("limit_subscriptions_total", "Subscribe frames refused for passing --max-subscriptions on one connection.", m.limit_subscriptions)
    counter("limit_selection_threads_total", "Selections (subscribe frames and GET /admin/logs) refused for naming more than --max-selection-threads threads.", m.limit_selection_threads)
    counter("limit_match_threads_total", "Selections refused because their glob matched more than --max-match-threads threads.", m.limit_match_threads)
    counter("limit_catch_up_hold_total", "Catching-up subscribers closed (1013) because the live rows held for them passed --max-outgoing-bytes.", m.limit_catch_up_hold)
    counter("limit_outgoing_bytes_total", "Connections closed (1013) for having more than --max-outgoing-bytes unsent.", m.limit_outgoing_bytes)
    lines += ["# HELP logctl_auth_refused_total Requests, handshakes and frames refused by the access rules, by reason.",
              "# TYPE logctl_auth_refused_total counter"]
    for reason in ("missing_token", "bad_token", "bad_session", "cross_site_session", "scope", "host", "origin"):
        lines.append(f'logctl_auth_refused_total{{reason="{reason}"}} {m.auth_refused.get(reason, 0)}')
    lines += ["# HELP logctl_batch_size Records per committed batch.", "# TYPE logctl_batch_size histogram"]
    running = 0
    for bound, count in zip(BATCH_BUCKETS, m.batch_buckets):
        running += count
        lines.append(f'logctl_batch_size_bucket{{le="{bound}"}} {running}')
    lines.append(f'logctl_batch_size_bucket{{le="+Inf"}} {m.batches}')
    lines.append(f"logctl_batch_size_sum {m.batch_records_sum}")
    lines.append(f"logctl_batch_size_count {m.batches}")
    gauge("backlog_records", "Records accepted but not yet committed.", backlog)
    gauge("subscribers", "Active thread subscriptions.", subscribers)
    gauge("connections", "Open WebSocket connections.", connections)
    gauge("database_up", "1 when the last database operation succeeded.", int(database_up))
    gauge("writer_alive", "1 while the writer thread runs.", int(writer_alive))
    lines += [
        "# HELP logctl_oldest_unwritten_seconds How long the oldest accepted, uncommitted record has waited.",
        "# TYPE logctl_oldest_unwritten_seconds gauge",
        f"logctl_oldest_unwritten_seconds {oldest_unwritten_seconds:.3f}",
    ]
    return "\n".join(lines) + "\n"
