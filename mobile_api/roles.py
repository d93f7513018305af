"""Staff roles. Stored as these strings; checked with ``mobile_api.access.requires(roles=...)``."""

PREREVIEWER = "prereviewer"
WINDOW_CLERK = "window_clerk"
OFFICER = "officer"
HOTLINE_OPERATOR = "hotline_operator"
SUPERVISOR = "supervisor"
# Runs the halls in ``StaffUser.hall_ids``: hours, windows, capacity, slot release, special days.
# Admins manage every hall (and alone open new ones).
HALL_MANAGER = "hall_manager"
ADMIN = "admin"
# Head of a department (部门负责人), scoped by ``StaffUser.department_codes`` like officers: receives
# the 12345 hotline's escalations (督办) of overdue tickets routed to those departments.
DEPARTMENT_HEAD = "department_head"

ALL_ROLES = (PREREVIEWER, WINDOW_CLERK, OFFICER, HOTLINE_OPERATOR, SUPERVISOR, HALL_MANAGER, ADMIN, DEPARTMENT_HEAD)

ROLE_NAMES_ZH = {
    PREREVIEWER: "预审员",
    WINDOW_CLERK: "窗口人员",
    OFFICER: "审批人员",
    HOTLINE_OPERATOR: "热线坐席",
    SUPERVISOR: "监察管理",
    HALL_MANAGER: "大厅管理员",
    ADMIN: "系统管理员",
    DEPARTMENT_HEAD: "部门负责人",
}
