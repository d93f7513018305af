"""What the hotline says to callers (zh-CN): verification codes, one-time notices, answered tickets."""

from __future__ import annotations

from notifications.models import MessageKind
from notifications.templates import Template, register_template

SIGN = "【掌上市民之家】"

# To the phone on record, never to the number calling: the operator asks the caller to read it out.
VERIFICATION_CODE = register_template(
    Template(
        code="hotline.verification_code",
        version=1,
        body=SIGN + "12345热线核验码{code}，{minutes}分钟内有效。仅在您本人来电时告诉坐席，其他任何人索要请勿提供。",
        params={"code": str, "minutes": int},
        channels=("sms",),
        urgent=True,
        kind=MessageKind.CODE,  # a secret: never held, never copied to the inbox
        title="热线身份核验",
    )
)

# The caller is on the line waiting for it, so it is urgent (no quiet hours); the hotline limits it per phone.
ITEM_NOTICE = register_template(
    Template(
        code="hotline.item_notice",
        version=1,
        body=SIGN + "“{item_name}”一次性告知：所需材料：{materials}。办理时限：{time_limit}。{channels}详询12345。",
        params={"item_name": str, "materials": str, "time_limit": str, "channels": str},
        channels=("sms",),
        urgent=True,
        title="办事一次性告知",
    )
)

TICKET_ANSWERED = register_template(
    Template(
        code="hotline.ticket_answered",
        version=1,
        body=SIGN + "您反映的问题（工单号{ticket_no}）已由{department}答复：{answer} 请在App“我的工单”中评价处理结果，或等待12345回访。",
        params={"ticket_no": str, "department": str, "answer": str},
        channels=("inbox", "sms"),
        title="工单已答复",
    )
)
