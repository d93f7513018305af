"""Demo catalog for the embedded default: the city's departments and realistic service items.

The data is ``demo_catalog.toml`` beside this file (one ``[[items]]`` table per item, fields named as
on :class:`~cases.models.ServiceItem`); this module reads it and adds what is missing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cases.models import Department, ServiceItem
from mobile_api.extensions import db
from mobile_api.transactions import transaction

CATALOG_FILE = Path(__file__).with_name("demo_catalog.toml")
IMAGE_OR_PDF = ["jpg", "png", "pdf"]


def material(code: str, name: str, required=True, original_or_copy="original", count=1, notes="", certificate_kind=None) -> dict:
    """A material spec as stored on a service item (every demo material accepts JPG, PNG or PDF)."""
    return {
        "code": code,
        "name": name,
        "required": required,
        "original_or_copy": original_or_copy,
        "count": count,
        "formats": IMAGE_OR_PDF,
        "notes": notes,
        "certificate_kind": certificate_kind,
    }


def _catalog() -> dict[str, Any]:
    return tomllib.loads(CATALOG_FILE.read_text(encoding="utf-8"))


def departments() -> list[tuple[str, str, str]]:
    """``(code, name, phone)`` of every demo department."""
    return [(code, spec["name"], spec["phone"]) for code, spec in _catalog()["departments"].items()]


def items() -> list[dict]:
    """Every demo item as the keyword arguments of a first-version :class:`ServiceItem` (without halls)."""
    catalog = _catalog()
    shared_materials = {code: material(code, **spec) for code, spec in catalog["materials"].items()}
    shared_fields = {name: {"name": name, **spec} for name, spec in catalog["form_fields"].items()}

    def resolve_material(entry: str | dict) -> dict:
        return shared_materials[entry] if isinstance(entry, str) else material(**entry)

    def resolve_field(entry: str | dict) -> dict:
        return shared_fields[entry] if isinstance(entry, str) else entry

    return [
        {
            "parallel_departments": [],
            "acceptance_conditions": "申请人身份真实、材料齐全且符合法定形式",
            "fee_notes": "不收费" if not spec["fee"] else "按规定收取工本费",
            **spec,
            "materials": [resolve_material(entry) for entry in spec["materials"]],
            "form_fields": [shared_fields["contact_phone"], *(resolve_field(entry) for entry in spec.get("form_fields", []))],
        }
        for spec in catalog["items"]
    ]


def seed_catalog(hall_ids: list[int]) -> int:
    """Add the departments and items not there yet (idempotent); returns how many items were added."""
    added = 0
    with transaction():
        for code, name, phone in departments():
            if db.session.get(Department, code) is None:
                db.session.add(Department(code=code, name=name, phone=phone))
        db.session.flush()
        for values in items():
            if db.session.scalar(select(ServiceItem.id).where(ServiceItem.code == values["code"])) is not None:
                continue
            db.session.add(ServiceItem(version=1, is_current=True, hall_ids=hall_ids, **values))
            added += 1
    return added


def seed_demo(context: dict) -> str:
    return f"cases: {seed_catalog(context.get('hall_ids', []))} new service items"
