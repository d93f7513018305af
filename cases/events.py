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
