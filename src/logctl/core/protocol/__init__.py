"""The WebSocket and HTTP protocol of docs/protocol.md, both directions, in one package. Pure.

============  ==========================================================================
``hub``       the hub's side: parse and validate what clients send; encode acks, errors,
              ``records`` and ``status`` frames
``producer``  a producer's side: encode ``publish`` frames, decode the hub's replies
``subscriber``  a subscriber's side: the ``subscribe`` frame, the hub's frames as events
``history``   the history API's JSON body: encoded by the hub, parsed by ``tail``
============  ==========================================================================

Everything here is bytes (or JSON values) in, values out; ``tests/test_core_purity.py``
checks that no module of the package does I/O. The hub's names are re-exported here, as
they were when this package was one module.
"""

from logctl.core.protocol.history import (
    EncodedHistoryPage,
    HistoryPage,
    encoded_history_body,
    history_body,
    parse_history,
    parse_record,
)
from logctl.core.protocol.hub import (
    DEFAULT_MAX_ERRORS_PER_FRAME,
    DEFAULT_MAX_RECORDS_PER_FRAME,
    Ping,
    Publish,
    RecordError,
    SelectionSubscribe,
    SelectionUnsubscribe,
    Subscribe,
    Unsubscribe,
    encode,
    error_frame,
    parse_frame,
    publish_error_frames,
    records_frame,
    status_frame,
    validate_publish,
)
from logctl.core.protocol.producer import decode_reply, encode_publish
from logctl.core.protocol.subscriber import (
    HubStatus,
    LiveRecords,
    StreamError,
    SubscriberEvent,
    Subscribed,
    ThreadStarted,
    selection_frame,
    subscribe_frame,
    subscriber_event,
)

__all__ = [
    "DEFAULT_MAX_ERRORS_PER_FRAME",
    "DEFAULT_MAX_RECORDS_PER_FRAME",
    "EncodedHistoryPage",
    "HistoryPage",
    "HubStatus",
    "LiveRecords",
    "Ping",
    "Publish",
    "RecordError",
    "SelectionSubscribe",
    "SelectionUnsubscribe",
    "StreamError",
    "Subscribe",
    "SubscriberEvent",
    "Subscribed",
    "ThreadStarted",
    "Unsubscribe",
    "decode_reply",
    "encode",
    "encode_publish",
    "encoded_history_body",
    "error_frame",
    "history_body",
    "parse_frame",
    "parse_history",
    "parse_record",
    "publish_error_frames",
    "records_frame",
    "selection_frame",
    "status_frame",
    "subscribe_frame",
    "subscriber_event",
    "validate_publish",
]
