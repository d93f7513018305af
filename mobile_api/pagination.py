"""The one pagination helper: ``?page=&per_page=`` in, ``{items, page, per_page, total}`` out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, validate
from sqlalchemy import Select, func, select

from mobile_api import fields
from mobile_api.extensions import db

MAX_PER_PAGE = 100


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """A response schema ``{items: [item_schema], page, per_page, total}`` named for OpenAPI."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema)),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
            "total": fields.Integer(),
        },
        name=name,
    )


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    def as_dict(self, **extra: Any) -> dict[str, Any]:
        return {"items": self.items, "page": self.page, "per_page": self.per_page, "total": self.total, **extra}


def paginate(statement: Select, page: int, per_page: int) -> Page:
    """Run ``statement`` for one page plus one COUNT query: two queries whatever the page size."""
    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    items = db.session.scalars(statement.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(list(items), page, per_page, total)
