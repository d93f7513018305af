"""Telling the citizen about their parcel or fee: one outbox row in the caller's transaction."""

from __future__ import annotations

from auth.models import Account
from cases.fulfilment import DeliveryCase
from mobile_api.extensions import db
from notifications.service import notify


def tell_citizen(case: DeliveryCase, template: str, params: dict, *, dedupe_key: str) -> None:
    """Queue ``template`` for the case's citizen; ``dedupe_key`` makes a repeated call send nothing more."""
    account = db.session.get(Account, case.account_id)
    if account is None:
        return
    notify(account, template, {"case_no": case.case_no, "item_name": case.item_name, **params}, dedupe_key=dedupe_key)
