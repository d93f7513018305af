"""Package settings: the one way a domain declares its settings and reads them.

A package keeps its defaults in one ``DEFAULTS`` mapping and calls :func:`register_settings` from its
``init_app``; code reads a value with :func:`setting`. Precedence: explicit app config (tests,
``create_app(overrides)``), then the environment variable of the same name, then the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import current_app


def register_settings(app_config: dict, defaults: Mapping[str, Any]) -> None:
    """Fill ``app_config`` with each setting not already set, from the environment or ``defaults``.

    Environment values are converted to the default's type (``bool`` accepts 1/true/yes/on); a
    ``None`` default (an optional setting) takes the environment's string; tuple defaults are not
    settable from the environment.
    """
    for name, default in defaults.items():
        if name in app_config:
            continue
        raw = os.environ.get(name)
        if raw in (None, "") or isinstance(default, tuple):
            app_config[name] = default
        elif default is None:
            app_config[name] = raw
        elif isinstance(default, bool):
            app_config[name] = raw.lower() in {"1", "true", "yes", "on"}
        else:
            app_config[name] = type(default)(raw)


def setting(name: str) -> Any:
    """The current app's value of a setting."""
    return current_app.config[name]
