"""HTTP: catalog (public), citizen cases, staff cases and transitions, supervision, certificates."""

from __future__ import annotations

from flask import Response

from cases import catalog, read_model, service, staff, supervision
from cases.schemas import (
    CaseCreate,
    CaseCreated,
    CaseDetail,
    CasePage,
    CatalogQuery,
    CertificateList,
    DepartmentSchema,
    GreenChannelRequest,
    GreenChannelSchema,
    ItemGuide,
    ItemPage,
    ItemUpdate,
    ItemWrite,
    MaterialResult,
    MaterialUpload,
    RatingRequest,
    RatingResult,
    RectificationDone,
    RectificationPage,
    RectificationQuery,
    RectificationSchema,
    StaffCaseQuery,
    StaffCaseRead,
    StaffTimelineQuery,
    StatsQuery,
    StatsSchema,
    TimelinePage,
    TransitionRequest,
    WarningPage,
)
from mobile_api.access import current_account, current_staff, requires, staff_actor
from mobile_api.idempotency import idempotent
from mobile_api.openapi import Blueprint
from mobile_api.pagination import PageArgs
from mobile_api.roles import ADMIN, HOTLINE_OPERATOR, OFFICER, PREREVIEWER, SUPERVISOR, WINDOW_CLERK

catalog_blp = Blueprint("catalog", __name__, url_prefix="/api/v1/catalog", description="事项清单与办事指南（无需登录）")
cases_blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="网上申报、材料上传、预审、办件进度、评价")
certificates_blp = Blueprint("certificates", __name__, url_prefix="/api/v1/me/certificates", description="我的电子证照")
staff_catalog_blp = Blueprint("staff_catalog", __name__, url_prefix="/api/v1/staff/catalog", description="事项管理（管理员）")
staff_cases_blp = Blueprint("staff_cases", __name__, url_prefix="/api/v1/staff", description="办件办理、电子监察、差评整改")

STAFF_CASE_ROLES = [PREREVIEWER, WINDOW_CLERK, OFFICER, SUPERVISOR, HOTLINE_OPERATOR]
BLUEPRINTS = (catalog_blp, cases_blp, certificates_blp, staff_catalog_blp, staff_cases_blp)


# ------------------------------------------------------------------ catalog (public)
@catalog_blp.route("/items", methods=["GET"])
@catalog_blp.arguments(CatalogQuery, location="query")
@catalog_blp.response(200, ItemPage)
def list_items(args: dict):
    """Search service items by name or keyword (中文), department, audience and life event."""
    return catalog.list_items(
        q=args.get("q"),
        department=args.get("department"),
        audience=args.get("audience"),
        category=args.get("category"),
        page=args["page"],
        per_page=args["per_page"],
    ).as_dict()


@catalog_blp.route("/items/<code>", methods=["GET"])
@catalog_blp.response(200, ItemGuide)
def get_item(code: str):
    """The full guide of the current version: materials, conditions, steps, time limits, fees."""
    return catalog.current_item(code)


@catalog_blp.route("/departments", methods=["GET"])
@catalog_blp.response(200, DepartmentSchema(many=True))
def list_departments():
    """Departments that own service items."""
    return catalog.list_departments()


# ------------------------------------------------------------------ catalog admin
@staff_catalog_blp.route("/items", methods=["POST"])
@requires(roles=[ADMIN])
@staff_catalog_blp.arguments(ItemWrite)
@staff_catalog_blp.response(201, ItemGuide)
def create_item(args: dict):
    """Create a service item (version 1) in the catalog (admin)."""
    return catalog.create_item(args, staff_actor(current_staff()))


@staff_catalog_blp.route("/items/<code>", methods=["PUT"])
@requires(roles=[ADMIN])
@staff_catalog_blp.arguments(ItemUpdate(partial=True))
@staff_catalog_blp.response(200, ItemGuide)
def update_item(args: dict, code: str):
    """Publish a new version of an item; cases already started keep their version."""
    return catalog.new_item_version(code, args, staff_actor(current_staff()))


# ------------------------------------------------------------------ citizen cases
@cases_blp.route("", methods=["POST"])
@requires(level=1)
@idempotent
@cases_blp.arguments(CaseCreate)
@cases_blp.response(201, CaseCreated)
def create_case(args: dict):
    """Start an application (draft); the form is checked against the item's declared fields."""
    return service.create_case(current_account(), args["item_code"], args["form"])


@cases_blp.route("", methods=["GET"])
@requires(level=1)
@cases_blp.arguments(PageArgs, location="query")
@cases_blp.response(200, CasePage)
def list_cases(args: dict):
    """My cases, newest first."""
    return service.list_citizen_cases(current_account().id, args["page"], args["per_page"])


@cases_blp.route("/<case_no>", methods=["GET"])
@requires(level=1)
@cases_blp.response(200, CaseDetail)
def get_case(case_no: str):
    """Status, current step, timeline, deadline, working days left, predicted completion."""
    return Response(read_model.citizen_case_json(current_account().id, case_no), mimetype="application/json")


@cases_blp.route("/<case_no>/timeline", methods=["GET"])
@requires(level=1)
@cases_blp.arguments(PageArgs, location="query")
@cases_blp.response(200, TimelinePage)
def case_timeline(args: dict, case_no: str):
    """My case's whole timeline, newest first, page by page (the case view carries the newest events)."""
    return service.citizen_timeline(current_account().id, case_no, args["page"], args["per_page"])


@cases_blp.route("/<case_no>/materials", methods=["POST"])
@requires(level=1)
@cases_blp.arguments(MaterialUpload, location="multipart")
@cases_blp.response(201, MaterialResult)
def upload_material(args: dict, case_no: str):
    """Upload one material (multipart ``material_code`` + ``file``): JPG/PNG/PDF, checked on arrival."""
    upload = args["file"]
    return service.add_material(current_account(), case_no, args["material_code"], upload.filename, upload.read())


@cases_blp.route("/<case_no>/submit", methods=["POST"])
@requires(level=1)
@idempotent
@cases_blp.response(200, CaseCreated)
def submit_case(case_no: str):
    """Send for pre-review; 422 lists every problem at once."""
    return service.submit_case(current_account(), case_no)


@cases_blp.route("/<case_no>/rating", methods=["POST"])
@requires(level=1)
@idempotent
@cases_blp.arguments(RatingRequest)
@cases_blp.response(201, RatingResult)
def rate_case(args: dict, case_no: str):
    """好差评, once per case after 办结; 不满意 / 非常不满意 open a rectification."""
    rating = service.rate_case(current_account(), case_no, args["level"], args["comment"])
    return {"level": rating.level, "comment": rating.comment, "created_at": rating.created_at, "rectification": rating.level <= 2}


@certificates_blp.route("", methods=["GET"])
@requires(level=1)
@certificates_blp.response(200, CertificateList)
def my_certificates():
    """My certificates, reusable in later applications."""
    return {"items": service.citizen_certificates(current_account().id)}


# ------------------------------------------------------------------ staff
@staff_cases_blp.route("/cases", methods=["GET"])
@requires(roles=STAFF_CASE_ROLES)
@staff_cases_blp.arguments(StaffCaseQuery, location="query")
@staff_cases_blp.response(200, CasePage)
def staff_list_cases(args: dict):
    """Cases in my departments, filtered by status / department / overdue."""
    return staff.staff_list_cases(
        current_staff(),
        status=args.get("status"),
        department=args.get("department"),
        overdue=args.get("overdue"),
        page=args["page"],
        per_page=args["per_page"],
    )


@staff_cases_blp.route("/cases/<case_no>", methods=["GET"])
@requires(roles=STAFF_CASE_ROLES)
@staff_cases_blp.arguments(StaffCaseRead, location="query")
@staff_cases_blp.response(200, CaseDetail)
def staff_get_case(args: dict, case_no: str):
    """One case with its timeline (audited, with the reason given)."""
    return staff.staff_read_case(current_staff(), case_no, args.get("reason"))


@staff_cases_blp.route("/cases/<case_no>/timeline", methods=["GET"])
@requires(roles=STAFF_CASE_ROLES)
@staff_cases_blp.arguments(StaffTimelineQuery, location="query")
@staff_cases_blp.response(200, TimelinePage)
def staff_case_timeline(args: dict, case_no: str):
    """A case's whole timeline with internal events, newest first, page by page (audited)."""
    return staff.staff_timeline(current_staff(), case_no, args["page"], args["per_page"], args.get("reason"))


@staff_cases_blp.route("/cases/<case_no>/materials/<material_code>/file", methods=["GET"])
@requires(roles=[PREREVIEWER, WINDOW_CLERK, OFFICER, SUPERVISOR])
@staff_cases_blp.arguments(StaffCaseRead, location="query")
@staff_cases_blp.response(200, content_type="application/octet-stream")
def staff_material_file(args: dict, case_no: str, material_code: str):
    """The uploaded file of one material (as checked and normalised on arrival); audited."""
    data, content_type, filename = staff.staff_material_file(current_staff(), case_no, material_code, args.get("reason"))
    response = Response(data, mimetype=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@staff_cases_blp.route("/cases/<case_no>/transitions", methods=["POST"])
@requires(roles=[PREREVIEWER, WINDOW_CLERK, OFFICER, SUPERVISOR])
@staff_cases_blp.arguments(TransitionRequest)
@staff_cases_blp.response(200, CaseDetail)
def transition(args: dict, case_no: str):
    """Move a case: checks role, department and state (409 lists the allowed actions)."""
    return staff.transition(current_staff(), case_no, args["action"], args)


@staff_cases_blp.route("/cases/<case_no>/green-channel", methods=["POST"])
@requires(roles=[SUPERVISOR, OFFICER])
@staff_cases_blp.arguments(GreenChannelRequest)
@staff_cases_blp.response(200, GreenChannelSchema)
def set_green_channel(args: dict, case_no: str):
    """绿色通道: mark a key project's case; its bookings may use the places halls keep for it."""
    return staff.set_green_channel(current_staff(), case_no, args["green_channel"], args["reason"])


@staff_cases_blp.route("/supervision/stats", methods=["GET"])
@requires(roles=[SUPERVISOR, OFFICER])
@staff_cases_blp.arguments(StatsQuery, location="query")
@staff_cases_blp.response(200, StatsSchema)
def supervision_stats(args: dict):
    """Figures for a period: cases, on time, overdue, satisfaction."""
    return supervision.stats(current_staff(), args["from_"], args["to"], args.get("department"))


@staff_cases_blp.route("/supervision/warnings", methods=["GET"])
@requires(roles=[SUPERVISOR, OFFICER])
@staff_cases_blp.arguments(PageArgs, location="query")
@staff_cases_blp.response(200, WarningPage)
def supervision_warnings(args: dict):
    """Cases in yellow or red: near or past their deadline."""
    return supervision.list_warnings(current_staff(), args["page"], args["per_page"]).as_dict()


@staff_cases_blp.route("/rectifications", methods=["GET"])
@requires(roles=[SUPERVISOR, OFFICER])
@staff_cases_blp.arguments(RectificationQuery, location="query")
@staff_cases_blp.response(200, RectificationPage)
def list_rectifications(args: dict):
    """Rectifications opened by 差评, with their deadlines."""
    return staff.list_rectifications(current_staff(), open_only=args["open"], page=args["page"], per_page=args["per_page"]).as_dict()


@staff_cases_blp.route("/rectifications/<int:rectification_id>", methods=["POST"])
@requires(roles=[OFFICER])
@staff_cases_blp.arguments(RectificationDone)
@staff_cases_blp.response(200, RectificationSchema)
def complete_rectification(args: dict, rectification_id: int):
    """Record the department's rectification; the citizen is told the outcome."""
    return staff.complete_rectification(current_staff(), rectification_id, args["outcome"])
