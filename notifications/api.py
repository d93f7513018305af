"""Notification endpoints. The sandbox blueprint is registered only when SANDBOX_MODE is on."""

from __future__ import annotations

from flask_smorest import Blueprint

from mobile_api.pagination import page_schema
from notifications import service
from notifications.schemas import SandboxMessageSchema, SandboxQuery

sandbox_blp = Blueprint(
    "sandbox", __name__, url_prefix="/api/v1/sandbox", description="沙箱：本应发往短信网关等外部渠道的消息（仅非生产环境）"
)


@sandbox_blp.route("/messages")
@sandbox_blp.arguments(SandboxQuery, location="query")
@sandbox_blp.response(200, page_schema(SandboxMessageSchema, "SandboxMessagePage"))
def list_sandbox_messages(args: dict):
    """Messages the local channel adapters recorded, newest first (sandbox mode only)."""
    return service.sandbox_messages(args.get("phone"), args["page"], args["per_page"]).as_dict()
