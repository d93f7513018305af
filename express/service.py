"""The verbs of express, as the API, the tasks and the signal receivers call them.

Each lives in its concern module; this module only gathers them, so a caller has one place to look:

- ``addresses``: the citizen's addresses; ``regions``: the GB/T 2260 picker
- ``choices``: delivery or pickup for a case and its quote; ``billing``: paying, "paid" once, refunds
- ``parcels``: parcels made at issue, re-delivery, inbound pickups, handover and receipt at the hall
- ``booking``: waybills and tracking subscriptions (task bodies)
- ``progress``: Kuaidi100 pushes and queries, the state by event time and what it does
- ``jobs``: the beat sweeps; ``staff``: the hall's list, reads and labels
"""

from __future__ import annotations

from express.addresses import create_address, delete_address, list_addresses, update_address
from express.billing import apply_notice, close_at_provider, handle_wechat_notice, process_refund, sandbox_pay_own, start_payment
from express.booking import RetryLater, book_waybill, subscribe_tracking
from express.choices import choose_delivery, get_choice
from express.jobs import advance_local, poll_stale, sweep
from express.parcels import book_inbound, handover, rebook, receive_originals, redeliver
from express.progress import ingest_push
from express.queries import my_deliveries, my_delivery, regions_below
from express.staff import staff_label, staff_list, staff_read

__all__ = [
    # the citizen
    "list_addresses",
    "create_address",
    "update_address",
    "delete_address",
    "regions_below",
    "get_choice",
    "choose_delivery",
    "start_payment",
    "sandbox_pay_own",
    "book_inbound",
    "my_deliveries",
    "my_delivery",
    "redeliver",
    # the hall
    "staff_list",
    "staff_read",
    "staff_label",
    "handover",
    "receive_originals",
    "rebook",
    # webhooks
    "ingest_push",
    "apply_notice",
    "handle_wechat_notice",
    # tasks and beat jobs
    "RetryLater",
    "book_waybill",
    "subscribe_tracking",
    "process_refund",
    "close_at_provider",
    "sweep",
    "poll_stale",
    "advance_local",
]
