"""Templates owned by the notifications package itself (generic notices used by staff tools and tests)."""

from notifications.templates import Template, register_template

SERVICE_NOTICE = register_template(
    Template(
        code="notifications.service_notice",
        version=1,
        body="【掌上市民之家】{content}",
        params={"content": str},
        channels=("inbox", "wechat", "sms"),
        essential=False,
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
        essential=True,
        title="短信通知",
    )
)
