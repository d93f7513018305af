"""The notifications domain's verbs: what other packages, ``api.py`` and ``tasks.py`` call.

Other packages call only ``notify()`` (an outbox row in the caller's transaction). The verbs live in
concern modules, by what they are about:

- ``outbox.py``      ``notify()``, writing the row, publishing it after commit (forgotten on rollback);
- ``delivery.py``    sending one message: the claim, channel choice, rate limit, the result;
- ``batch.py``       sending a batch: one claim, each message sent, the results recorded together;
- ``transitions.py`` the status machine every status change goes through;
- ``receipts.py``    SMS providers' delivery receipts (generic signed ones, Alibaba/Tencent pushes);
- ``sweep.py``       the beat job publishing stuck rows and settling abandoned sends;
- ``inbox.py``       the citizen's inbox, preferences and WeChat subscriptions;
- ``staff.py``       supervisors' views, resending, and the sandbox.
"""

from __future__ import annotations

from notifications.batch import BatchOutcome, send_batch
from notifications.delivery import RetryLater, send
from notifications.inbox import add_wechat_subscriptions, get_preferences, inbox, mark_read, update_preferences
from notifications.outbox import PENDING_KEY, notify, publish, quiet_hours_end
from notifications.receipts import RECEIPT_STATUSES, check_callback_token, record_receipt, record_vendor_receipts, webhook_secret
from notifications.staff import counts_last_24h, resend, sandbox_messages, staff_detail, staff_list
from notifications.sweep import sweep_stuck, sweep_urgent

__all__ = [
    "BatchOutcome",
    "PENDING_KEY",
    "RECEIPT_STATUSES",
    "RetryLater",
    "add_wechat_subscriptions",
    "check_callback_token",
    "counts_last_24h",
    "get_preferences",
    "inbox",
    "mark_read",
    "notify",
    "publish",
    "quiet_hours_end",
    "record_receipt",
    "record_vendor_receipts",
    "resend",
    "sandbox_messages",
    "send",
    "send_batch",
    "staff_detail",
    "staff_list",
    "sweep_stuck",
    "sweep_urgent",
    "update_preferences",
    "webhook_secret",
]
