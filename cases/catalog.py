"""The service catalog (事项清单): public search and guides; admin edits make a new version."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from cases.models import Department, ServiceItem
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import Page, paginate
from mobile_api.transactions import transaction

EDITABLE_FIELDS = (
    "name",
    "department_code",
    "item_type",
    "audience",
    "categories",
    "keywords",
    "legal_basis",
    "acceptance_conditions",
    "materials",
    "steps",
    "form_fields",
    "statutory_days",
    "promised_days",
    "fee",
    "fee_notes",
    "required_level",
    "fully_online",
    "needs_visit",
    "bookable",
    "deliverable",
    "delivery_payer",
    "delivery_fee",
    "postal_materials",
    "parallel_departments",
    "hall_ids",
)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_items(*, q: str | None, department: str | None, audience: str | None, category: str | None, page: int, per_page: int) -> Page:
    statement = select(ServiceItem).where(ServiceItem.is_current.is_(True))
    if q:
        for word in q.split()[:5]:
            statement = statement.where(ServiceItem.search_text.like(f"%{_like_escape(word)}%", escape="\\"))
    if department:
        statement = statement.where(ServiceItem.department_code == department)
    if audience:
        statement = statement.where(ServiceItem.audience == audience)
    if category:
        statement = statement.where(ServiceItem.category_tags.like(f"%|{_like_escape(category)}|%", escape="\\"))
    return paginate(statement.order_by(ServiceItem.code), page, per_page)


def list_departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.code)))


def department_names(codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    return dict(db.session.execute(select(Department.code, Department.name).where(Department.code.in_(codes))).all())


def current_item(code: str) -> ServiceItem:
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == code, ServiceItem.is_current.is_(True)))
    if item is None:
        raise Problem(404, "item_not_found", "未找到该办事事项", item_code=code)
    return item


def _check_departments(values: dict) -> None:
    wanted = {values["department_code"], *values.get("parallel_departments", [])}
    known = set(db.session.scalars(select(Department.code).where(Department.code.in_(wanted))))
    if wanted - known:
        raise Problem(422, "department_unknown", "部门代码不存在", errors={"department_code": sorted(wanted - known)})


def create_item(values: dict, actor: str) -> ServiceItem:
    with _publishing():
        _check_departments(values)
        if db.session.scalar(select(func.count()).where(ServiceItem.code == values["code"])):
            raise Problem(409, "item_exists", "该事项编码已存在，请使用修改功能", item_code=values["code"])
        item = ServiceItem(code=values["code"], version=1, is_current=True, **{k: values[k] for k in EDITABLE_FIELDS if k in values})
        db.session.add(item)
        record_audit(actor, "catalog.create_item", "service_item", values["code"])
    return item


def new_item_version(code: str, values: dict, actor: str) -> ServiceItem:
    """Publish a new version; cases started on an older version keep theirs. A PUT that changes
    nothing (``{}``, or the current values) publishes nothing and answers the current version."""
    with _publishing():
        old = current_item(code)
        current = {name: getattr(old, name) for name in EDITABLE_FIELDS}
        merged = {**current, **{k: v for k, v in values.items() if k in EDITABLE_FIELDS}}
        if merged == current:
            return old
        _check_departments(merged)
        claimed = db.session.execute(
            update(ServiceItem).where(ServiceItem.id == old.id, ServiceItem.is_current.is_(True)).values(is_current=False)
        ).rowcount
        if not claimed:
            raise Problem(409, "item_changed", "该事项刚被其他人修改，请刷新后重试")
        item = ServiceItem(code=code, version=old.version + 1, is_current=True, **merged)
        db.session.add(item)
        record_audit(actor, "catalog.new_version", "service_item", code, details={"version": old.version + 1})
    return item


@contextmanager
def _publishing() -> Iterator[None]:
    """One transaction for a publication; two admins publishing the same code at once: the loser gets 409.

    The race is decided by the unique (code, version) constraint, at a flush or at the commit.
    """
    try:
        with transaction():
            yield
    except IntegrityError:
        raise Problem(409, "item_changed", "该事项刚被其他人修改，请刷新后重试") from None
