"""Staff roles. Stored as these strings; checked with ``mobile_api.access.requires(roles=...)``."""

PREREVIEWER = "prereviewer"
WINDOW_CLERK = "window_clerk"
OFFICER = "officer"
HOTLINE_OPERATOR = "hotline_operator"
SUPERVISOR = "supervisor"
ADMIN = "admin"

ALL_ROLES = (PREREVIEWER, WINDOW_CLERK, OFFICER, HOTLINE_OPERATOR, SUPERVISOR, ADMIN)

ROLE_NAMES_ZH = {
    PREREVIEWER: "预审员",
    WINDOW_CLERK: "窗口人员",
    OFFICER: "审批人员",
    HOTLINE_OPERATOR: "热线坐席",
    SUPERVISOR: "监察管理",
    ADMIN: "系统管理员",
}
