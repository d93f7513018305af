"""Demo staff (one per role) and residents for the local identity registry (embedded default only)."""

from __future__ import annotations

from auth import service
from mobile_api.roles import ADMIN, HALL_MANAGER, HOTLINE_OPERATOR, OFFICER, PREREVIEWER, SUPERVISOR, WINDOW_CLERK

# Valid GB 11643 numbers (checksum, region, birth date) of people who do not exist.
DEMO_RESIDENTS = [
    ("张伟", "330203198503120016"),
    ("王芳", "330205199007080024"),
    ("李娜", "330281199502150049"),
    ("王建国", "11010519491231002X"),
    ("陈思雨", "330203200806010068"),
]

ALL_DEPARTMENTS = ["GA", "SCJG", "ZRZY", "RS", "MZ", "WJ", "YB", "GJJ", "SW", "JT", "ZJ"]

# username, display name, roles, departments
DEMO_STAFF = [
    ("admin", "系统管理员", [ADMIN], ALL_DEPARTMENTS),
    ("prereviewer", "预审员小周", [PREREVIEWER], ALL_DEPARTMENTS),
    ("clerk", "窗口人员小吴", [WINDOW_CLERK], ALL_DEPARTMENTS),
    ("officer", "审批人员老郑", [OFFICER], ["GA", "ZRZY", "SW", "ZJ"]),
    ("operator", "12345坐席小冯", [HOTLINE_OPERATOR], []),
    ("supervisor", "电子监察室老陈", [SUPERVISOR], ALL_DEPARTMENTS),
    ("hallmanager", "大厅管理员小林", [HALL_MANAGER], []),
]


def seed_identity_and_staff(password: str, hall_ids: list[int]) -> None:
    for name, id_number in DEMO_RESIDENTS:
        service.add_resident(name, id_number, "demo")
    for username, display_name, roles, departments in DEMO_STAFF:
        service.create_staff(username, password, roles, display_name, departments, hall_ids)


def seed_demo(context: dict) -> str:
    seed_identity_and_staff(context["password"], context.get("hall_ids", []))
    return f"auth: {len(DEMO_STAFF)} staff users, {len(DEMO_RESIDENTS)} residents"
