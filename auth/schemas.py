"""Request/response schemas for sign-in, identity and staff; validation lives here."""

from __future__ import annotations

import phonenumbers
from marshmallow import Schema, ValidationError, validate, validates

from mobile_api import fields


def normalise_mainland_mobile(value: str) -> str:
    """``+86 138-0013-8000`` → ``13800138000``; anything but a mainland mobile number is refused."""
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError("请输入正确的手机号码") from None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise ValidationError("请输入正确的手机号码")
    if phonenumbers.number_type(number) not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise ValidationError("请输入手机号码（不支持固定电话）")
    return str(number.national_number)


class MobilePhone(fields.String):
    """A mainland mobile number, normalised to its 11 digits."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        if len(raw) > 32:
            raise ValidationError("请输入正确的手机号码")
        return normalise_mainland_mobile(raw)


class SmsCodeRequest(Schema):
    phone = MobilePhone(required=True, metadata={"example": "13800138000"})


class SmsCodeSent(Schema):
    expires_in = fields.Integer(metadata={"description": "Seconds the code stays valid"})
    resend_after = fields.Integer(metadata={"description": "Seconds before another code may be asked for"})


class TokenRequest(Schema):
    phone = MobilePhone(required=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="验证码为6位数字"))
    wechat_ticket = fields.String(validate=validate.Length(max=1000), metadata={"description": "From POST /auth/wechat, to bind WeChat"})


class MeSchema(Schema):
    id = fields.String()
    phone_masked = fields.String()
    level = fields.Integer()
    name_masked = fields.String(allow_none=True)
    id_number_masked = fields.String(allow_none=True)
    wechat_bound = fields.Boolean()
    companies = fields.List(fields.Dict())


class TokenResponse(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    account = fields.Nested(MeSchema)


class WechatRequest(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=200))


class WechatResponse(TokenResponse):
    phone_required = fields.Boolean(metadata={"description": "True: sign in with SMS and pass wechat_ticket"})
    wechat_ticket = fields.String()
    ticket_expires_in = fields.Integer()


class IdentityRequest(Schema):
    name = fields.String(required=True, validate=validate.Regexp(r"^[\u4e00-\u9fa5·]{2,20}$", error="请输入身份证上的中文姓名"))
    id_number = fields.String(required=True, validate=validate.Length(min=15, max=20))

    @validates("id_number")
    def _id_number(self, value: str, **kwargs) -> None:
        from auth.service import check_id_number

        check_id_number(value)


class CompanyRequest(Schema):
    credit_code = fields.String(required=True, validate=validate.Length(min=18, max=18, error="统一社会信用代码为18位"))
    company_name = fields.String(required=True, validate=validate.Length(min=2, max=200))

    @validates("credit_code")
    def _credit_code(self, value: str, **kwargs) -> None:
        from stdnum.cn import uscc
        from stdnum.exceptions import ValidationError as StdnumError

        try:
            uscc.validate(value)
        except StdnumError:
            raise ValidationError("统一社会信用代码不正确，请核对") from None


class StaffTokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class StaffSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    department_codes = fields.List(fields.String())
    hall_ids = fields.List(fields.Integer())


class StaffTokenResponse(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    staff = fields.Nested(StaffSchema)


class ResidentRequest(IdentityRequest):
    pass


class ResidentSchema(Schema):
    id = fields.Integer()
    name_masked = fields.String()
    id_number_masked = fields.String()
    source = fields.String()


class DataExportSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "building | ready | downloaded | expired | failed"})
    requested_at = fields.DateTime()
    download_url = fields.String(metadata={"description": "When ready: GET it once (with the token) before expires_at"})
    expires_at = fields.DateTime()
    size = fields.Integer(metadata={"description": "Bytes of the JSON file"})
    retry_after = fields.Integer(metadata={"description": "While building: seconds before asking again"})


class AccountClosureRequest(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="验证码为6位数字"))


class AccountClosureResult(Schema):
    closed_at = fields.DateTime()
    erased = fields.Dict(metadata={"description": "What each service erased"})
    kept = fields.Dict(metadata={"description": "What each service had to keep, and why"})


class UnlockRequest(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=200), metadata={"description": "Why (audited)"})


class StaffLockSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    failed_sign_ins = fields.Integer()
    locked_until = fields.DateTime(allow_none=True)
