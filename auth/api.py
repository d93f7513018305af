"""Sign-in, the citizen's own account, real name, and staff sign-in / identity registry."""

from __future__ import annotations

from flask import Response
from flask_jwt_extended import get_jwt, jwt_required

from auth import data_rights, service
from auth.schemas import (
    AccountClosureRequest,
    AccountClosureResult,
    CompanyRequest,
    DataExportSchema,
    IdentityRequest,
    MeSchema,
    ResidentRequest,
    ResidentSchema,
    SmsCodeRequest,
    SmsCodeSent,
    StaffLockSchema,
    StaffTokenRequest,
    StaffTokenResponse,
    TokenRequest,
    TokenResponse,
    UnlockRequest,
    WechatRequest,
    WechatResponse,
)
from auth.tokens import revoke_family, rotate_refresh_token
from mobile_api.access import current_account, current_staff, requires, staff_actor
from mobile_api.extensions import limiter, principal_or_ip
from mobile_api.openapi import Blueprint
from mobile_api.roles import ADMIN
from mobile_api.settings import setting

auth_blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录：短信验证码、令牌、微信小程序")
me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="我的账号与实名认证")
staff_auth_blp = Blueprint("staff_auth", __name__, url_prefix="/api/v1/staff", description="工作人员登录与身份库管理")


# Flask-Limiter calls these per request, so the limits follow the app's settings (tests, env).
def _sms_ip_limit() -> str:
    return setting("SMS_CODE_DAILY_PER_IP")


def _identity_limit() -> str:
    return setting("IDENTITY_ATTEMPTS_LIMIT")


@auth_blp.route("/sms-codes", methods=["POST"])
@limiter.limit(_sms_ip_limit)
@auth_blp.arguments(SmsCodeRequest)
@auth_blp.response(202, SmsCodeSent)
def request_sms_code(args: dict):
    """Send a 6-digit sign-in code by SMS (valid 5 minutes; resend after 60 s; daily caps)."""
    return service.request_sms_code(args["phone"])


@auth_blp.route("/tokens", methods=["POST"])
@limiter.limit("30 per minute")
@auth_blp.arguments(TokenRequest)
@auth_blp.response(200, TokenResponse)
def create_tokens(args: dict):
    """Sign in with phone + SMS code; the account is created on first sign-in."""
    pair, account = service.sign_in_with_sms(args["phone"], args["code"], args.get("wechat_ticket"))
    return {**pair.as_dict(), "account": service.account_summary(account)}


@auth_blp.route("/tokens/refresh", methods=["POST"])
@jwt_required(refresh=True)
@auth_blp.response(200, TokenResponse)
@auth_blp.doc(security=[{"bearerAuth": []}])
def refresh_tokens():
    """Exchange a refresh token (as Bearer) for a new pair. A refresh token works once."""
    return rotate_refresh_token(get_jwt()).as_dict()


@auth_blp.route("/tokens", methods=["DELETE"])
@jwt_required()
@auth_blp.response(204)
@auth_blp.doc(security=[{"bearerAuth": []}])
def delete_tokens():
    """Sign out: this sign-in's access and refresh tokens stop working everywhere."""
    revoke_family(get_jwt()["fam"])


@auth_blp.route("/wechat", methods=["POST"])
@limiter.limit("30 per minute")
@auth_blp.arguments(WechatRequest)
@auth_blp.response(200, WechatResponse)
def wechat_sign_in(args: dict):
    """Sign in from the WeChat mini program with a ``wx.login`` code.

    A bound WeChat gets tokens. The first time, the answer is ``phone_required`` with a
    ``wechat_ticket`` to pass to ``POST /auth/tokens`` together with the SMS code.
    """
    return service.sign_in_with_wechat(args["code"])


@me_blp.route("", methods=["GET"])
@requires(level=1)
@me_blp.response(200, MeSchema)
def get_me():
    """The signed-in citizen, with personal data masked."""
    return service.account_summary(current_account())


@me_blp.route("/identity", methods=["POST"])
@requires(level=1)
@limiter.limit(_identity_limit, key_func=principal_or_ip)
@me_blp.arguments(IdentityRequest)
@me_blp.response(200, MeSchema)
def verify_identity(args: dict):
    """Real-name verification (level 2): name + resident ID number, confirmed by the registry."""
    account = service.verify_identity(current_account(), args["name"], args["id_number"])
    return service.account_summary(account)


@me_blp.route("/companies", methods=["POST"])
@requires(level=2)
@me_blp.arguments(CompanyRequest)
@me_blp.response(200, MeSchema)
def bind_company(args: dict):
    """Act for an enterprise, identified by its unified social credit code (needs level 2)."""
    account = current_account()
    service.bind_company(account, args["credit_code"], args["company_name"])
    return service.account_summary(account)


# --- the citizen's rights over their data (auth/data_rights.py) ---------------------------------


@me_blp.route("/data-export", methods=["GET"])
@requires(level=1)
@me_blp.response(200, DataExportSchema)
@me_blp.alt_response(202, schema=DataExportSchema, description="Being built: ask again after retry_after seconds")
def get_my_data_export():
    """A copy of everything we hold about me, as JSON: 202 while it is built, then a one-time download link."""
    return data_rights.request_export(current_account())


@me_blp.route("/data-export/<string:export_id>", methods=["GET"])
@requires(level=1)
@me_blp.doc(responses={200: {"description": "The JSON file (once)"}, 410: {"description": "Already downloaded or expired"}})
def download_my_data_export(export_id: str):
    """Download the export once; the stored copy is deleted at the same moment."""
    payload = data_rights.download_export(current_account(), export_id)
    headers = {"Content-Disposition": 'attachment; filename="my-personal-data.json"', "Cache-Control": "no-store"}
    return Response(payload, mimetype="application/json", headers=headers)


@me_blp.route("/closure-code", methods=["POST"])
@requires(level=1)
@limiter.limit(_sms_ip_limit)
@me_blp.response(202, SmsCodeSent)
def request_closure_code():
    """Send the SMS code that confirms closing my account (a sign-in code does not)."""
    return data_rights.request_closure_code(current_account())


@me_blp.route("", methods=["DELETE"])
@requires(level=1)
@me_blp.arguments(AccountClosureRequest)
@me_blp.response(200, AccountClosureResult)
def close_my_account(args: dict):
    """Close my account with the SMS code: sign-in, face data, preferences, inbox and addresses are erased;
    the case, booking and audit records the law requires stay, no longer linked to my phone. Not undoable."""
    return data_rights.close_account(current_account(), args["code"])


@staff_auth_blp.route("/auth/tokens", methods=["POST"])
@limiter.limit("20 per minute")
@staff_auth_blp.arguments(StaffTokenRequest)
@staff_auth_blp.response(200, StaffTokenResponse)
def staff_sign_in(args: dict):
    """Staff sign-in with username and password."""
    pair, staff = service.staff_sign_in(args["username"], args["password"])
    return {**pair.as_dict(), "staff": service.staff_summary(staff)}


@staff_auth_blp.route("/identity/residents", methods=["POST"])
@requires(roles=[ADMIN])
@staff_auth_blp.arguments(ResidentRequest)
@staff_auth_blp.response(201, ResidentSchema)
def add_resident(args: dict):
    """Add (or correct) a resident in the local identity registry (admin)."""
    staff = current_staff()
    return service.resident_summary(service.add_resident(args["name"], args["id_number"], "admin", actor=staff_actor(staff)))


@staff_auth_blp.route("/users/<int:staff_id>/unlock", methods=["POST"])
@requires(roles=[ADMIN])
@staff_auth_blp.arguments(UnlockRequest)
@staff_auth_blp.response(200, StaffLockSchema)
def unlock_staff_user(args: dict, staff_id: int):
    """Unlock a staff account locked by wrong passwords, and reset its count (admin; audited)."""
    staff = service.unlock_staff(staff_id, staff_actor(current_staff()), args.get("reason"))
    return service.lock_summary(staff)
