"""What cases tells the packages above it, in the same transaction as the change.

Packages above ``cases`` (express, hotline) cannot be imported by it; they subscribe to these signals
from their ``init_app`` instead. Receivers run synchronously inside the caller's transaction: what
they write commits or rolls back with the case change, and a receiver that raises a ``Problem`` stops
the change.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent after every status change of a case (citizen submit, every staff transition), before commit.
# Keyword arguments: case (cases.models.Case), event (cases.models.CaseEvent), from_status, to_status.
case_status_changed = _signals.signal("case-status-changed")

# Sent while the citizen's view of a case is (re)built (``cases.read_model``). A receiver returns a dict
# merged into the view, or None (express adds ``delivery``: the fee, payment and parcel timeline).
# Keyword arguments: none; the sender is the case. A package whose part of the view changes bumps the
# case's view version (``cases.fulfilment.touch_case_view``) in the same transaction as its change.
case_view_requested = _signals.signal("case-view-requested")


def view_fragments(case) -> dict:
    """What the packages above add to the citizen's view of ``case``."""
    merged: dict = {}
    for _receiver, fragment in case_view_requested.send(case):
        if fragment:
            merged.update(fragment)
    return merged
