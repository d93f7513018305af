"""What appointments say to citizens: text, kind (what may hold it back) and inbox title per template."""

from datetime import datetime

from mobile_api.timeutil import CITY_TZ
from notifications.models import MessageKind
from notifications.templates import Template, register_template

BOOKED = register_template(
    Template(
        code="appointments.booked",
        version=1,
        body="【掌上市民之家】您已预约{hall}办理{item}，时间{when}，预约码{code}。请携带材料按时到达并签到取号。",
        params={"hall": str, "item": str, "when": str, "code": str},
        kind=MessageKind.RESULT,
        title="预约成功",
    )
)

REMINDER_DAY_BEFORE = register_template(
    Template(
        code="appointments.reminder_day_before",
        version=1,
        body="【掌上市民之家】提醒：您预约了明天{when}在{hall}办理{item}（预约码{code}），请按时到达。如不能前往请提前取消。",
        params={"hall": str, "item": str, "when": str, "code": str},
        kind=MessageKind.REMINDER,
        title="预约提醒",
    )
)

REMINDER_HOUR_BEFORE = register_template(
    Template(
        code="appointments.reminder_hour_before",
        version=1,
        body="【掌上市民之家】提醒：您预约的{item}将于{when}在{hall}办理（预约码{code}），请提前到达签到取号。",
        params={"hall": str, "item": str, "when": str, "code": str},
        kind=MessageKind.REMINDER,
        title="预约提醒",
    )
)

WAITLIST_OFFER = register_template(
    Template(
        code="appointments.waitlist_offer",
        version=1,
        body="【掌上市民之家】{hall}{when}办理{item}有空余名额，已为您保留至{until}，请在App中确认预约，逾期将顺延给下一位。",
        params={"hall": str, "item": str, "when": str, "until": str},
        urgent=True,
        kind=MessageKind.CHANGE,
        title="候补名额",
    )
)

THREE_AHEAD = register_template(
    Template(
        code="appointments.three_ahead",
        version=1,
        body="【掌上市民之家】您的排队号{ticket_no}前面还有3人，请留意叫号，做好办理准备。",
        params={"ticket_no": str},
        urgent=True,
        kind=MessageKind.CHANGE,
        title="叫号提醒",
    )
)

BOOKING_SUSPENDED = register_template(
    Template(
        code="appointments.booking_suspended",
        version=1,
        body="【掌上市民之家】您在90天内有{count}次预约未到场，{until}前暂停网上预约。如有疑问请拨打12345。",
        params={"count": int, "until": str},
        kind=MessageKind.RESULT,
        title="预约限制",
    )
)

CANCELLED_HALL_CLOSED = register_template(
    Template(
        code="appointments.cancelled_hall_closed",
        version=1,
        body="【掌上市民之家】因{reason}，{hall}{day}闭厅，您预约的{item}（预约码{code}）已取消，请在App中重新预约。给您带来不便，敬请谅解。",
        params={"reason": str, "hall": str, "day": str, "item": str, "code": str},
        kind=MessageKind.CHANGE,
        title="预约取消",
    )
)


# A hall's change (closure, hours, windows, capacity) that moves or cancels bookings: the notice says
# why, what happens, and the nearest times still free.
MOVED_BY_HALL = register_template(
    Template(
        code="appointments.moved_by_hall",
        version=1,
        body="【掌上市民之家】因{reason}，您在{hall}预约的{item}（预约码{code}）已由{old}调整至{new}。如不合适，请在App中改约或取消。给您带来不便，敬请谅解。",
        params={"reason": str, "hall": str, "item": str, "code": str, "old": str, "new": str},
        kind=MessageKind.CHANGE,  # the hall changed the citizen's visit: never held
    )
)

CANCELLED_BY_HALL = register_template(
    Template(
        code="appointments.cancelled_by_hall",
        version=1,
        body="【掌上市民之家】因{reason}，您在{hall}{old}预约的{item}（预约码{code}）已取消。{alternatives}请在App中重新预约，给您带来不便，敬请谅解。",
        params={"reason": str, "hall": str, "item": str, "code": str, "old": str, "alternatives": str},
        kind=MessageKind.CHANGE,  # the hall changed the citizen's visit: never held
    )
)


def alternatives_text(starts: list[str]) -> str:
    """``最近可约：03月05日 09:30、03月05日 10:00。`` for ISO starts, or nothing when there are none."""
    if not starts:
        return ""
    times = "、".join(datetime.fromisoformat(start).astimezone(CITY_TZ).strftime("%m月%d日 %H:%M") for start in starts)
    return f"最近可约：{times}。"


def city_time_text(moment: datetime) -> str:
    """A moment as a message says it: city time to the minute (``2026-03-02 09:30``)."""
    return moment.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")
