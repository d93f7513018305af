"""flask-jwt-extended callbacks: token errors rendered as problem+json, and the signing key ring.

Tokens are signed with the newest key of ``JWT_SECRET_KEYS`` (or the single ``JWT_SECRET_KEY``, id ``k0``)
and carry its id in the ``kid`` header; a token is checked with the key its ``kid`` names, so refresh
tokens (30 days) survive a rotation as long as their key stays configured. A token without ``kid``
(issued before key ids existed) is checked with the oldest configured key; an unknown ``kid`` fails as
an invalid token.

Which tokens are revoked and who a token names are the ``auth`` package's to say: it registers
``token_in_blocklist_loader`` and ``user_lookup_loader`` from its ``init_app``.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask_jwt_extended import JWTManager

from mobile_api.errors import Problem, problem_response
from mobile_api.keyring import jwt_keyring


def signing_key(_identity: Any) -> str:
    return jwt_keyring().newest[1].decode()


def signing_headers(_identity: Any) -> dict:
    return {"kid": jwt_keyring().newest[0]}


def verification_key(header: dict, _payload: dict) -> str:
    ring = jwt_keyring()
    kid = header.get("kid")
    if kid is None:
        return ring.keys[-1][1].decode()
    key = ring.get(kid)
    # An unknown key id: a fresh random key makes the signature check fail (401 token_invalid).
    return key.decode() if key is not None else secrets.token_hex(32)


def register_jwt_callbacks(jwt: JWTManager) -> None:
    jwt.encode_key_loader(signing_key)
    jwt.additional_headers_loader(signing_headers)
    jwt.decode_key_loader(verification_key)

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
