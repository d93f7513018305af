"""The application form: each service item declares its fields; what a citizen fills in is checked here.

A field spec is ``{name, label, type, required, max_length?}`` with ``type`` one of string, number,
integer, boolean, date. Every problem is reported at once (一次性告知), keyed by field name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

from cases.models import ServiceItem
from mobile_api.errors import Problem

# A check answers (error message, None) or (None, the cleaned value).
FieldCheck = Callable[[str, dict, Any], tuple[str | None, Any]]


def validate_form(item: ServiceItem, form: dict) -> dict:
    """The item declares its form fields; anything missing, unknown or mistyped is a 422 with every error."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    declared = {spec["name"]: spec for spec in item.form_fields}
    for name in form:
        if name not in declared:
            errors[name] = ["此事项没有该填写项"]
    for name, spec in declared.items():
        value = form.get(name)
        if value is None or value == "":
            if spec.get("required"):
                errors[name] = [f"请填写{spec.get('label', name)}"]
            continue
        message, cleaned = check_field(spec, value)
        if message:
            errors[name] = [message]
        else:
            clean[name] = cleaned
    if errors:
        raise Problem(422, "form_invalid", "申请表填写有误，请检查后重试", errors={"form": errors})
    return clean


def check_field(spec: dict, value: Any) -> tuple[str | None, Any]:
    label, kind = spec.get("label", spec["name"]), spec.get("type", "string")
    check = _CHECKS.get(kind)
    if check is None:
        return f"{label}类型未知", None
    return check(label, spec, value)


def _check_string(label: str, spec: dict, value: Any) -> tuple[str | None, Any]:
    if not isinstance(value, str):
        return f"{label}应为文字", None
    value = value.strip()
    if len(value) > int(spec.get("max_length", 500)):
        return f"{label}太长", None
    return None, value


def _check_number(label: str, spec: dict, value: Any) -> tuple[str | None, Any]:
    # bool is an int in Python, and JSON allows neither NaN nor Infinity as a number a person typed.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"{label}应为数字", None
    if spec.get("type") == "integer" and not float(value).is_integer():
        return f"{label}应为整数", None
    if value < 0 or value > 1e12:
        return f"{label}超出范围", None
    return None, value


def _check_boolean(label: str, _spec: dict, value: Any) -> tuple[str | None, Any]:
    return (None, value) if isinstance(value, bool) else (f"{label}应为是或否", None)


def _check_date(label: str, _spec: dict, value: Any) -> tuple[str | None, Any]:
    try:
        return None, date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        return f"{label}应为日期（YYYY-MM-DD）", None


_CHECKS: dict[str, FieldCheck] = {
    "string": _check_string,
    "number": _check_number,
    "integer": _check_number,
    "boolean": _check_boolean,
    "date": _check_date,
}
