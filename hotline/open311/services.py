"""The GeoReport service list and service definitions.

Services come from the ticket types (``consultation``, ``complaint``, ``report``, ``suggestion``,
``help``, ``praise``), a complaint about one case (``complaint-case``: ``metadata: true``, its
definition requires the attribute ``case_no``), and a consultation about each current catalog item
(``consultation-<item code>``). ``report`` is the one ``batch`` service: a report (举报) is answered with
a token and becomes a ticket in a worker, which screens it before anyone handles it; every other
service is ``realtime`` and answers a ``service_request_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cases import catalog
from cases.lookup import current_items
from hotline.models import TicketType
from hotline.tickets import CASE_COMPLAINT_SERVICE, ITEM_CONSULTATION_PREFIX
from mobile_api.errors import Problem

REALTIME, BATCH = "realtime", "batch"


@dataclass(frozen=True)
class Service:
    service_code: str
    service_name: str
    description: str
    group: str
    keywords: str
    ticket_type: str
    type: str = REALTIME
    attributes: tuple[dict, ...] = field(default_factory=tuple)
    item_code: str | None = None

    @property
    def metadata(self) -> bool:
        return bool(self.attributes)

    def listing(self) -> dict:
        return {
            "service_code": self.service_code,
            "service_name": self.service_name,
            "description": self.description,
            "metadata": self.metadata,
            "type": self.type,
            "keywords": self.keywords,
            "group": self.group,
        }

    def definition(self) -> dict:
        return {"service_code": self.service_code, "attributes": list(self.attributes)}


COMPLAINT_KINDS = (
    {"key": "overdue", "name": "超期未办结"},
    {"key": "extra_trips", "name": "多次跑腿、重复提交材料"},
    {"key": "attitude", "name": "服务态度"},
    {"key": "other", "name": "其他"},
)

CASE_ATTRIBUTES = (
    {
        "variable": True,
        "code": "case_no",
        "datatype": "string",
        "required": True,
        "datatype_description": "办件号，如 NB2611-K7M3Q（在App“我的办件”或受理回执中）",
        "order": 1,
        "description": "被投诉的办件号",
        "values": [],  # only list datatypes have values; an empty list keeps every attribute the same shape
    },
    {
        "variable": True,
        "code": "complaint_kind",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": None,
        "order": 2,
        "description": "投诉类别",
        "values": list(COMPLAINT_KINDS),
    },
)

TYPE_SERVICES = (
    Service(
        "consultation", "政务咨询", "咨询办事条件、所需材料、办理流程和政策", "咨询", "咨询,办事指南,政策,材料", TicketType.CONSULTATION
    ),
    Service("complaint", "投诉", "对政务服务、部门工作作风或效率的投诉", "投诉", "投诉,作风,效率", TicketType.COMPLAINT),
    Service(
        CASE_COMPLAINT_SERVICE,
        "办件投诉",
        "对某一办件的投诉（超期、多次跑、服务态度等），须提供办件号",
        "投诉",
        "投诉,办件,超期,多次跑",
        TicketType.COMPLAINT,
        attributes=CASE_ATTRIBUTES,
    ),
    Service(
        "report",
        "举报",
        "举报违法违规行为；经受理审核后生成工单，先返回受理凭证（token）",
        "举报",
        "举报,违法,违规",
        TicketType.REPORT,
        type=BATCH,
    ),
    Service("suggestion", "建议", "对政务服务、城市管理的意见建议", "建议", "建议,意见", TicketType.SUGGESTION),
    Service("help", "求助", "生活中遇到困难需要政府部门帮助", "求助", "求助,困难,帮助", TicketType.HELP),
    Service("praise", "表扬", "表扬窗口、部门或工作人员", "表扬", "表扬,感谢", TicketType.PRAISE),
)


def _item_service(item: dict, group: str) -> Service:
    return Service(
        ITEM_CONSULTATION_PREFIX + item["code"],
        f"{item['name']}咨询",
        f"咨询“{item['name']}”的办理条件、所需材料和流程",
        group,
        ",".join(item["keywords"]),
        TicketType.CONSULTATION,
        item_code=item["code"],
    )


def all_services() -> list[Service]:
    items = current_items()
    names = catalog.department_names({item["department_code"] for item in items})
    return [*TYPE_SERVICES, *(_item_service(item, names.get(item["department_code"], item["department_code"])) for item in items)]


def service(service_code: str) -> Service:
    """One service by code; 404 (the spec's "service_code not found") otherwise."""
    for candidate in TYPE_SERVICES:
        if candidate.service_code == service_code:
            return candidate
    if service_code.startswith(ITEM_CONSULTATION_PREFIX):
        try:
            item = catalog.current_item(service_code.removeprefix(ITEM_CONSULTATION_PREFIX))
        except Problem:
            item = None
        if item is not None:
            group = catalog.department_names({item.department_code}).get(item.department_code, item.department_code)
            brief = {"code": item.code, "name": item.name, "department_code": item.department_code, "keywords": list(item.keywords or [])}
            return _item_service(brief, group)
    raise Problem(404, "service_code_not_found", f"service_code {service_code} 不存在")


def service_name(service_code: str, item_names: dict[str, str]) -> str:
    """The public name of the service a ticket is published under (item names loaded by the caller)."""
    for candidate in TYPE_SERVICES:
        if candidate.service_code == service_code:
            return candidate.service_name
    code = service_code.removeprefix(ITEM_CONSULTATION_PREFIX)
    return f"{item_names.get(code, code)}咨询"
