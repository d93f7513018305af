"""JWT issue, rotation and revocation.

Access tokens are short (15 min). Refresh tokens rotate: each can be used once, and all tokens of one
sign-in share a family id. Presenting a used refresh token again means it was copied, so the whole
family is revoked (OAuth 2.0 Security BCP, refresh token rotation). Revocations are written to the
database and copied to Redis when configured (``auth/revocation.py``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import update

from auth import revocation
from auth.models import Account, RefreshToken, StaffUser
from mobile_api.access import CITIZEN, STAFF, principal_id, subject_for
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def as_dict(self) -> dict:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }


def issue_tokens(kind: str, principal: str | int, family_id: str | None = None) -> TokenPair:
    """Issue an access + refresh pair and record the refresh token (in the caller's transaction)."""
    subject = subject_for(kind, principal)
    family_id = family_id or uuid.uuid4().hex
    claims = {"kind": kind, "fam": family_id}
    access = create_access_token(identity=subject, additional_claims=claims)
    refresh = create_refresh_token(identity=subject, additional_claims=claims)
    decoded = decode_token(refresh)
    db.session.add(
        RefreshToken(
            jti=decoded["jti"],
            family_id=family_id,
            subject=subject,
            expires_at=datetime.fromtimestamp(decoded["exp"], tz=utcnow().tzinfo),
        )
    )
    expires_in = int(setting("JWT_ACCESS_TOKEN_EXPIRES").total_seconds())
    return TokenPair(access, refresh, expires_in)


def rotate_refresh_token(jwt_payload: dict) -> TokenPair:
    """Spend a refresh token and issue the next pair; a second use revokes the family.

    The revocation is its own transaction, kept although the request then fails.
    """
    jti, family_id = jwt_payload["jti"], jwt_payload["fam"]
    with transaction():
        spent = db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.jti == jti, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
            .values(used_at=utcnow())
        ).rowcount
        if spent == 1:
            pair = issue_tokens(jwt_payload["kind"], principal_id(jwt_payload), family_id)
    if spent != 1:
        revoke_family(family_id)
        raise Problem(401, "refresh_token_reused", "登录状态已失效，请重新登录", "该刷新令牌已被使用，为保护您的账号，已退出所有相关登录。")
    return pair


def revoke_family(family_id: str) -> None:
    """Revoke every token of one sign-in: stored refresh tokens and, via the list, access tokens."""
    with transaction():
        db.session.execute(
            update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
    revocation.add(f"fam:{family_id}", setting("JWT_REFRESH_TOKEN_EXPIRES"))


def is_revoked(jwt_payload: dict) -> bool:
    keys = [f"jti:{jwt_payload['jti']}"]
    if jwt_payload.get("fam"):
        keys.append(f"fam:{jwt_payload['fam']}")
    return revocation.is_revoked(keys)


def load_principal(_header: dict, payload: dict) -> Account | StaffUser | None:
    """flask-jwt-extended's user lookup: the account or staff user a token names (None → 401)."""
    if payload.get("kind") == CITIZEN:
        account = db.session.get(Account, principal_id(payload))
        return None if account is None or account.closed_at is not None else account
    if payload.get("kind") == STAFF:
        return db.session.get(StaffUser, int(principal_id(payload)))
    return None


def is_revoked_token(_header: dict, payload: dict) -> bool:
    """flask-jwt-extended's blocklist check."""
    return is_revoked(payload)
