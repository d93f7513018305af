"""Fulfilment verbs for the packages above cases (express): read a case for delivery, close it when its
certificate has reached the citizen, accept paper originals that arrived by post, leave the hall a note,
and mark the citizen's stored view stale when something shown in it changed elsewhere.

None of these opens or commits a transaction: they run inside the caller's (a webhook, a task, a signal
receiver), so the case change commits or rolls back with the delivery change that caused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from cases.clock import today
from cases.models import Case, CaseMaterial, CaseStatus, DeliveryPayer
from cases.service import case_for_citizen
from cases.timeline import add_event, claim_case
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.timeutil import utcnow

# Statuses in which the certificate has not left the hall yet: the citizen may still choose how to get it.
BEFORE_COLLECTION_STATUSES = tuple(
    status for status in CaseStatus if status not in (CaseStatus.DELIVERED, CaseStatus.COLLECTED, CaseStatus.CLOSED, CaseStatus.REJECTED)
)


@dataclass(frozen=True)
class DeliveryCase:
    """What express needs to know of a case and its item's delivery policy (plain data, no ORM object)."""

    id: int
    case_no: str
    account_id: str
    status: str
    item_code: str
    item_name: str
    department_code: str
    deliverable: bool
    delivery_payer: str
    delivery_fee: Decimal | None  # yuan; None: the courier's tariff
    postal_materials: tuple[str, ...]
    material_names: dict[str, str]
    hall_ids: tuple[int, ...]

    @property
    def before_collection(self) -> bool:
        return self.status in BEFORE_COLLECTION_STATUSES


def _as_delivery_case(case: Case) -> DeliveryCase:
    item = case.item
    return DeliveryCase(
        id=case.id,
        case_no=case.case_no,
        account_id=case.account_id,
        status=case.status,
        item_code=item.code,
        item_name=item.name,
        department_code=case.department_code,
        deliverable=bool(item.deliverable),
        delivery_payer=item.delivery_payer or DeliveryPayer.CITIZEN,
        delivery_fee=Decimal(str(item.delivery_fee)) if item.delivery_fee is not None else None,
        postal_materials=tuple(item.postal_materials or ()),
        material_names={spec["code"]: spec["name"] for spec in item.materials or []},
        hall_ids=tuple(item.hall_ids or ()),
    )


def delivery_case_for_citizen(account_id: str, case_no: str) -> DeliveryCase:
    """The citizen's own case for delivery (404 for another citizen's case, as everywhere)."""
    return _as_delivery_case(case_for_citizen(account_id, case_no))


def delivery_case(case_id: int) -> DeliveryCase:
    case = db.session.scalar(select(Case).options(joinedload(Case.item)).where(Case.id == case_id))
    if case is None:
        raise Problem(404, "case_not_found", "未找到该办件")
    return _as_delivery_case(case)


def case_numbers(case_ids: set[int]) -> dict[int, str]:
    """Case numbers of several cases in one query (for lists of parcels)."""
    if not case_ids:
        return {}
    return dict(db.session.execute(select(Case.id, Case.case_no).where(Case.id.in_(case_ids))).all())


def close_delivered(case_id: int, *, actor: str, note: str, data: dict | None = None) -> bool:
    """The certificate reached the citizen: certificate_issued → delivered → closed (办结，已送达).

    A case a clerk already marked delivered is only closed; a case in any other status (collected at a
    window meanwhile, already closed) is left alone. Returns whether the case was closed now.
    """
    case = db.session.scalar(select(Case).options(joinedload(Case.item)).where(Case.id == case_id))
    if case is None or case.status not in (CaseStatus.CERTIFICATE_ISSUED, CaseStatus.DELIVERED):
        return False
    on = today()
    if case.status == CaseStatus.CERTIFICATE_ISSUED:
        claim_case(case, CaseStatus.CERTIFICATE_ISSUED)
        case.status = CaseStatus.DELIVERED
        add_event(case, actor, "deliver", CaseStatus.CERTIFICATE_ISSUED, CaseStatus.DELIVERED, on=on, note=note, data=data)
    claim_case(case, CaseStatus.DELIVERED)
    case.status = CaseStatus.CLOSED
    add_event(case, actor, "close", CaseStatus.DELIVERED, CaseStatus.CLOSED, on=on, note=f"办结：{note}", data=data)
    return True


def record_posted_originals(case_id: int, material_codes: list[str], *, actor: str, reference: str) -> list[str]:
    """The hall received paper originals by post: they satisfy those materials for pre-review.

    Only codes the item lists as postable are recorded; an uploaded scan of the same material is kept
    (the pre-reviewer still sees it) but the material now counts as provided. Returns the codes recorded.
    """
    case = db.session.scalar(select(Case).options(joinedload(Case.item)).where(Case.id == case_id))
    if case is None:
        raise Problem(404, "case_not_found", "未找到该办件")
    postable = set(case.item.postal_materials or ()) & {spec["code"] for spec in case.item.materials or []}
    codes = [code for code in dict.fromkeys(material_codes) if code in postable]
    names = {spec["code"]: spec["name"] for spec in case.item.materials or []}
    existing = {m.material_code: m for m in db.session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id))}
    now = utcnow()
    for code in codes:
        material = existing.get(code)
        if material is None:
            material = CaseMaterial(case_id=case.id, material_code=code, file_id=None, certificate_id=None)
            db.session.add(material)
        material.source, material.check_ok, material.uploaded_at = "post", True, now
        material.check = {"kind": "paper_original", "reference": reference, "received_by": actor, "problems": []}
    if codes:
        add_event(
            case,
            actor,
            "originals_received",
            case.status,
            case.status,
            on=today(),
            note="大厅已收到您邮寄的纸质材料：" + "、".join(names[code] for code in codes),
            data={"material_codes": codes, "reference": reference},
        )
    return codes


def note_for_staff(case_id: int, *, actor: str, internal_note: str, data: dict | None = None) -> None:
    """An internal timeline note the hall sees on the case (the citizen does not)."""
    case = db.session.scalar(select(Case).options(joinedload(Case.item)).where(Case.id == case_id))
    if case is None:
        return
    add_event(case, actor, "note", case.status, case.status, on=today(), visible=False, internal_note=internal_note, data=data)


def touch_case_view(case_id: int) -> None:
    """Something shown in the citizen's view of the case changed outside cases: rebuild it on next read."""
    db.session.execute(
        update(Case).where(Case.id == case_id).values(view_version=Case.view_version + 1).execution_options(synchronize_session=False)
    )
