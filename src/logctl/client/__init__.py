"""The producer side: ship records to a hub or to PostgreSQL (see docs/producers.md).

``routing`` picks the destination, ``transports`` talk to it, ``shipper`` owns the spool
and the background thread, ``send`` is the library call behind ``logctl send``.
"""
