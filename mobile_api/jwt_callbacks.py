"""flask-jwt-extended callbacks: token errors rendered as problem+json.

Which tokens are revoked and who a token names are the ``auth`` package's to say: it registers
``token_in_blocklist_loader`` and ``user_lookup_loader`` from its ``init_app``.
"""

from __future__ import annotations

from flask_jwt_extended import JWTManager

from mobile_api.errors import Problem, problem_response


def register_jwt_callbacks(jwt: JWTManager) -> None:
    @jwt.unauthorized_loader
    def _missing(reason: str):
        return problem_response(Problem(401, "unauthorized", "请先登录", headers={"WWW-Authenticate": "Bearer"}))

    @jwt.invalid_token_loader
    def _invalid(reason: str):
        return problem_response(Problem(401, "token_invalid", "登录凭证无效，请重新登录", headers={"WWW-Authenticate": "Bearer"}))

    @jwt.expired_token_loader
    def _expired(_header: dict, _payload: dict):
        return problem_response(Problem(401, "token_expired", "登录已过期，请刷新或重新登录", headers={"WWW-Authenticate": "Bearer"}))

    @jwt.revoked_token_loader
    def _revoked_response(_header: dict, _payload: dict):
        return problem_response(Problem(401, "token_revoked", "您已退出登录，请重新登录", headers={"WWW-Authenticate": "Bearer"}))

    @jwt.user_lookup_error_loader
    def _lookup(_header: dict, _payload: dict):
        return problem_response(Problem(401, "account_not_found", "账号不存在，请重新登录"))

    @jwt.needs_fresh_token_loader
    def _fresh(_header: dict, _payload: dict):
        return problem_response(Problem(401, "fresh_token_required", "请重新登录后再操作"))

    @jwt.token_verification_failed_loader
    def _failed(_header: dict, _payload: dict):
        return problem_response(Problem(401, "token_invalid", "登录凭证无效，请重新登录"))
