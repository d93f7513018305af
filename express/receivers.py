"""What express does when cases tells it something (``cases.events``), inside the case's transaction.

- A certificate is issued and the citizen chose the courier: the parcel is created now, so the issue
  and the parcel commit together (the waybill is booked by a task after commit).
- A case is rejected: a paid delivery fee is refunded (decided now, asked of the provider after commit).
  Cases has no "withdrawn" status yet; when it gets one, it belongs in ``REFUND_ON``.
- The citizen's case view is (re)built: express adds ``delivery`` (fee, payment, parcels and their
  tracking timelines).
"""

from __future__ import annotations

from cases.events import case_status_changed, case_view_requested
from cases.models import CaseStatus
from express.billing import close_pending_payments, request_refund
from express.parcels import ship_on_issue
from express.schemas import CaseDeliverySchema
from express.views import case_fragment

_fragment_schema = CaseDeliverySchema()
REFUND_ON = {CaseStatus.REJECTED: "办件未予批准，快递费原路退回"}


def on_case_status_changed(case, *, event, from_status, to_status) -> None:
    if to_status == CaseStatus.CERTIFICATE_ISSUED:
        ship_on_issue(case.id)
    elif to_status in REFUND_ON:
        close_pending_payments(case.id)
        request_refund(case.id, REFUND_ON[to_status])


def on_case_view_requested(case) -> dict | None:
    fragment = case_fragment(case.id, case.case_no)
    return {"delivery": _fragment_schema.dump(fragment)} if fragment else None


def connect_receivers() -> None:
    """Connected once per process (blinker ignores a second connection of the same function)."""
    case_status_changed.connect(on_case_status_changed)
    case_view_requested.connect(on_case_view_requested)
