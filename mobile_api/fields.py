"""The marshmallow fields every schema uses: marshmallow's own, with the ones that can overflow bounded.

Schemas import ``from mobile_api import fields`` instead of ``from marshmallow import fields`` (a test
holds every package to it), so a number or a date from a request can never be larger than what the
database column or the date arithmetic behind it can hold:

- ``Integer``/``Int``: a 32-bit signed integer unless the field's own ``Range`` is tighter (PostgreSQL's
  ``integer``); a JSON ``1e400`` (infinity) is a validation error, not an ``OverflowError``.
- ``Date``/``DateTime``: years 1900–2199 (``date.max + timedelta`` would overflow; no city business is
  dated 9999).

Everything else is marshmallow's field as it is.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from marshmallow import ValidationError, validate
from marshmallow.fields import *  # noqa: F403  (this module stands in for marshmallow.fields)
from marshmallow.fields import Date as _Date
from marshmallow.fields import DateTime as _DateTime
from marshmallow.fields import Integer as _Integer

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MIN_YEAR, MAX_YEAR = 1900, 2199


class Integer(_Integer):
    """An integer the database can store: int32 bounds, documented as minimum/maximum in OpenAPI."""

    def __init__(self, *, strict: bool = False, **kwargs: Any) -> None:
        validators = kwargs.pop("validate", None)
        if validators is None:
            validators = []
        elif callable(validators):
            validators = [validators]
        kwargs["validate"] = [validate.Range(min=INT32_MIN, max=INT32_MAX), *validators]
        super().__init__(strict=strict, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and not math.isfinite(value):
            raise self.make_error("invalid")
        try:
            return super()._validated(value)
        except OverflowError:
            raise self.make_error("invalid") from None


Int = Integer


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError(f"日期超出范围（{MIN_YEAR}–{MAX_YEAR}年）")


class Date(_Date):
    """A calendar date between 1900-01-01 and 2199-12-31."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {"description": f"YYYY-MM-DD, {MIN_YEAR}–{MAX_YEAR}", **kwargs["metadata"]}
        super().__init__(*args, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        result = super()._deserialize(value, attr, data, **kwargs)
        _check_year(result.year)
        return result


class DateTime(_DateTime):
    """A moment in the years 1900–2199."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        result = super()._deserialize(value, attr, data, **kwargs)
        _check_year(result.year)
        return result
