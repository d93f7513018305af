"""Admin editing of the working-day calendar (holidays and 调休 working weekends)."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, validate

from mobile_api import fields, workdays
from mobile_api.access import current_staff, requires, staff_actor
from mobile_api.errors import Problem
from mobile_api.openapi import Blueprint
from mobile_api.roles import ADMIN, SUPERVISOR

calendar_blp = Blueprint("calendar", __name__, url_prefix="/api/v1/staff/calendar", description="工作日历（法定节假日与调休）")


class CalendarDaySchema(Schema):
    day = fields.Date()
    is_workday = fields.Boolean()
    name = fields.String()
    source = fields.String()


class CalendarYearSchema(Schema):
    year = fields.Integer()
    known = fields.Boolean(metadata={"description": "False: dates in this year are provisional (Mon–Fri only)"})
    days = fields.List(fields.Nested(CalendarDaySchema))


class CalendarDayUpdate(Schema):
    is_workday = fields.Boolean(required=True)
    name = fields.String(load_default="", validate=validate.Length(max=64))


def _year(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise Problem(404, "not_found", "您要找的内容不存在")
    return year


@calendar_blp.route("/<int:year>")
@requires(roles=[ADMIN, SUPERVISOR])
@calendar_blp.response(200, CalendarYearSchema)
def get_year(year: int):
    """A year's exceptions to Monday–Friday, and whether the year is fully known."""
    known, days = workdays.year_overview(_year(year))
    return {"year": year, "known": known, "days": days}


@calendar_blp.route("/<int:year>/complete", methods=["POST"])
@requires(roles=[ADMIN])
@calendar_blp.response(200, CalendarYearSchema)
def complete_year(year: int):
    """Declare a year's holidays fully entered (after the State Council notice)."""
    workdays.mark_year_known(_year(year))
    known, days = workdays.year_overview(year)
    return {"year": year, "known": known, "days": days}


@calendar_blp.route("/days/<string:day>", methods=["PUT"])
@requires(roles=[ADMIN])
@calendar_blp.arguments(CalendarDayUpdate)
@calendar_blp.response(200, CalendarDaySchema)
def put_day(args: dict, day: str):
    """Make one day a holiday (``is_workday: false``) or a 调休 working day (``true``)."""
    return workdays.set_day(_parse_day(day), args["is_workday"], args["name"], staff_actor(current_staff()))


@calendar_blp.route("/days/<string:day>", methods=["DELETE"])
@requires(roles=[ADMIN])
@calendar_blp.response(204)
def delete_day(day: str):
    """Remove an override; the day follows the Monday–Friday rule again."""
    if not workdays.delete_day(_parse_day(day)):
        raise Problem(404, "not_found", "该日期没有特别安排")


def _parse_day(value: str) -> date:
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise Problem(404, "not_found", "日期格式应为 YYYY-MM-DD") from None
    _year(parsed.year)
    return parsed
