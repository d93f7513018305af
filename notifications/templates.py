"""Message templates: zh-CN text, a version, typed parameters, channels in order, urgency.

Domain packages register their own templates at import time (``register_template``); a template's
parameters are checked when ``notify()`` is called, so a missing parameter fails the caller's test
instead of sending a blank SMS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from string import Formatter


class TemplateError(ValueError):
    """A programming error: unknown template or wrong parameters."""


@dataclass(frozen=True)
class Template:
    code: str
    version: int
    body: str
    params: dict[str, type]
    channels: tuple[str, ...] = ("sms",)
    urgent: bool = False
    essential: bool = True
    title: str = ""
    fields_in_body: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = frozenset(name for _, name, _, _ in Formatter().parse(self.body) if name)
        object.__setattr__(self, "fields_in_body", names)
        if names != set(self.params):
            raise TemplateError(f"template {self.code}: body fields {sorted(names)} != params {sorted(self.params)}")

    def validate(self, params: dict) -> None:
        missing = set(self.params) - set(params)
        extra = set(params) - set(self.params)
        if missing or extra:
            raise TemplateError(f"template {self.code}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        for name, kind in self.params.items():
            if not isinstance(params[name], kind):
                raise TemplateError(f"template {self.code}: {name} must be {kind.__name__}")

    def render(self, params: dict) -> str:
        return self.body.format(**params)


_TEMPLATES: dict[str, Template] = {}


def register_template(template: Template) -> Template:
    existing = _TEMPLATES.get(template.code)
    if existing is not None and existing.version > template.version:
        return existing
    _TEMPLATES[template.code] = template
    return template


def get_template(code: str) -> Template:
    try:
        return _TEMPLATES[code]
    except KeyError:
        raise TemplateError(f"unknown template {code}") from None


SMS_SIGN_IN_CODE = register_template(
    Template(
        code="auth.sms_code",
        version=1,
        body="【掌上市民之家】您的登录验证码是{code}，{minutes}分钟内有效。请勿将验证码告诉他人。",
        params={"code": str, "minutes": int},
        channels=("sms",),
        urgent=True,
    )
)
