"""Templates of the auth package (face verification's are in ``auth/face/messages.py``; the sign-in code's
is the platform-level ``notifications.templates.SMS_SIGN_IN_CODE``)."""

from notifications.models import MessageKind
from notifications.templates import Template, register_template

ACCOUNT_CLOSURE_CODE = register_template(
    Template(
        code="auth.closure_code",
        version=1,
        body="【掌上市民之家】您正在注销账号，验证码{code}，{minutes}分钟内有效。注销后账号不可恢复；如非本人操作，请勿告诉他人。",
        params={"code": str, "minutes": int},
        channels=("sms",),
        urgent=True,
        kind=MessageKind.CODE,  # a secret: never held, never copied to the inbox
    )
)
