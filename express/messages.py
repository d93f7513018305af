"""What citizens are told about their parcels and delivery fees (zh-CN): in-app inbox, then WeChat
subscribe message or SMS. Registered at import; sent only through ``notifications.service.notify``."""

from __future__ import annotations

from notifications.models import MessageKind
from notifications.templates import Template, register_template

SIGN = "【掌上市民之家】"

# code: (title, body, extra params, WeChat subscribe-message template id). Every body names the case
# and the parcel's courier + waybill where there is one.
_MESSAGES: dict[str, tuple[str, str, dict[str, type], str]] = {
    "express.booked": (
        "证照已安排寄出",
        "您的办件{case_no}（{item_name}）证照将由{courier}寄出，运单号{waybill_no}。可在App“我的快递”中查看物流进度。",
        {"courier": str, "waybill_no": str},
        "express-booked",
    ),
    "express.out_for_delivery": (
        "证照正在派送",
        "您的办件{case_no}（{item_name}）证照正在派送中（{courier} {waybill_no}），请保持电话畅通。",
        {"courier": str, "waybill_no": str},
        "express-out-for-delivery",
    ),
    "express.delivered": (
        "证照已送达",
        "您的办件{case_no}（{item_name}）证照已送达（{courier} {waybill_no}），办件已办结。欢迎对本次服务进行评价。",
        {"courier": str, "waybill_no": str},
        "express-delivered",
    ),
    "express.exception": (
        "证照快递异常",
        "您的办件{case_no}（{item_name}）证照快递出现异常（{courier} {waybill_no}）：{reason}。"
        "您可在App中选择重新投递或到大厅自取，大厅工作人员也会与您联系。",
        {"courier": str, "waybill_no": str, "reason": str},
        "express-exception",
    ),
    "express.pickup_booked": (
        "上门取件已预约",
        "您为办件{case_no}（{item_name}）预约的上门取件已下单（{courier} {waybill_no}），快递员将上门收取纸质材料：{materials}。",
        {"courier": str, "waybill_no": str, "materials": str},
        "express-pickup-booked",
    ),
    "express.originals_received": (
        "纸质材料已收到",
        "大厅已收到您为办件{case_no}（{item_name}）邮寄的纸质材料：{materials}，可用于预审。",
        {"materials": str},
        "express-originals-received",
    ),
    "express.fee_due": (
        "请支付快递费",
        "您的办件{case_no}（{item_name}）证照已制发，快递费{amount}元尚未支付。支付后即安排寄出，也可改为到大厅自取。",
        {"amount": str},
        "express-fee-due",
    ),
    "express.refunded": (
        "快递费已退款",
        "您为办件{case_no}（{item_name}）支付的快递费{amount}元已退回原支付账户（{reason}）。",
        {"amount": str, "reason": str},
        "express-refunded",
    ),
}

for _code, (_title, _body, _extra, _wechat_id) in _MESSAGES.items():
    register_template(
        Template(
            code=_code,
            version=1,
            body=SIGN + _body,
            params={"case_no": str, "item_name": str, **_extra},
            channels=("inbox", "wechat", "sms"),
            title=_title,
            wechat_template_id=_wechat_id,
            # A parcel at the door is a change that matters today; the rest report the citizen's own business.
            kind=MessageKind.CHANGE if _code == "express.out_for_delivery" else MessageKind.RESULT,
        )
    )

TEMPLATE_CODES = frozenset(_MESSAGES)
