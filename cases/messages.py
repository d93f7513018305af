"""What citizens are told when their case moves (SMS text, zh-CN). One template per visible transition."""

from __future__ import annotations

from notifications.models import MessageKind
from notifications.templates import Template, register_template

SIGN = "【掌上市民之家】"

_BODIES: dict[str, tuple[str, dict[str, type]]] = {
    "cases.submitted": ("您申请的“{item_name}”（办件号{case_no}）已提交，预审人员将在{detail}前完成预审。", {}),
    "cases.prereview_returned": (
        "您申请的“{item_name}”（办件号{case_no}）预审未通过，需补充或更正{count}项材料：{issues}。请一次性补齐后重新提交。",
        {"count": int, "issues": str},
    ),
    "cases.resubmitted": ("您已重新提交“{item_name}”（办件号{case_no}），预审人员将在{detail}前完成预审。", {}),
    "cases.prereview_passed": ("您申请的“{item_name}”（办件号{case_no}）已通过预审，材料齐全，{detail}", {}),
    "cases.accepted": ("您申请的“{item_name}”（办件号{case_no}）已受理，承诺在{detail}前办结。", {}),
    "cases.progress": ("您的办件{case_no}（{item_name}）办理进展：{detail}", {}),
    "cases.suspended": ("您的办件{case_no}（{item_name}）需要补正：{detail}。补正期间办理时限暂停计算。", {}),
    "cases.resumed": ("您的办件{case_no}（{item_name}）已恢复办理，办结期限调整为{detail}。", {}),
    "cases.extended": ("您的办件{case_no}（{item_name}）经批准延长办理期限，新的办结期限为{detail}。", {}),
    "cases.approved": ("您的办件{case_no}（{item_name}）已办结，审批通过。{detail}", {}),
    "cases.rejected": ("您的办件{case_no}（{item_name}）已办结，未予批准。原因：{detail}", {}),
    "cases.certificate_issued": ("您的办件{case_no}（{item_name}）证照已制发，可在“我的证照”中查看。{detail}", {}),
    "cases.delivered": ("您的办件{case_no}（{item_name}）证照已交付快递寄出。{detail}", {}),
    "cases.collected": ("您的办件{case_no}（{item_name}）证照已领取。{detail}", {}),
    "cases.closed": ("您的办件{case_no}（{item_name}）已归档，欢迎对本次服务进行评价。{detail}", {}),
    "cases.rectified": ("您对办件{case_no}（{item_name}）的评价已由部门整改，整改结果：{detail}", {}),
}

# ``detail`` carries the one variable part of each message (a date, a reason, a note) so that every
# template has the same three parameters plus its own extras.
for _code, (_body, _extra) in _BODIES.items():
    register_template(
        Template(
            code=_code,
            version=1,
            body=SIGN + _body,
            params={"case_no": str, "item_name": str, **({"detail": str} if "{detail}" in _body else {}), **_extra},
            channels=("sms",),
            kind=MessageKind.RESULT,  # the citizen's own case moved: never held, always in the inbox
            title="办件进度",
        )
    )

TEMPLATE_CODES = frozenset(_BODIES)
