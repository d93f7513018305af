"""Templates owned by the notifications package itself (generic notices used by staff tools and tests)."""

from notifications.models import MessageKind
from notifications.templates import Template, register_template

SERVICE_NOTICE = register_template(
    Template(
        code="notifications.service_notice",
        version=1,
        body="【掌上市民之家】{content}",
        params={"content": str},
        channels=("wechat", "sms"),
        kind=MessageKind.NOTICE,
        title="服务通知",
        wechat_template_id="service-notice",
    )
)

SMS_NOTICE = register_template(
    Template(
        code="notifications.sms_notice",
        version=1,
        body="【掌上市民之家】{content}",
        params={"content": str},
        channels=("sms",),
        title="短信通知",
    )
)
