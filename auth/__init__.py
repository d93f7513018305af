"""Accounts, phone sign-in, JWT, roles, real-name levels (L2 identity, L3 face)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from auth.api import auth_blp, me_blp, staff_auth_blp
    from mobile_api.extensions import api

    for blueprint in (auth_blp, me_blp, staff_auth_blp):
        api.register_blueprint(blueprint)
