"""Message templates: zh-CN text, a version, typed parameters, channels in order, urgency.

Domain packages register their own templates at import time (``register_template``); a template's
parameters are checked when ``notify()`` is called, so a missing parameter fails the caller's test
instead of sending a blank SMS.

A template's ``kind`` (``models.MessageKind``) says what the message is: every kind but ``code`` gets
an inbox copy whenever the recipient has an account (written with the outbox row, never held); quiet
hours, the per-phone SMS cap and the citizen's opt-outs apply only to ``reminder`` and ``notice``.
``channels`` are the *push* channels in order, the first usable one is used: ``wechat`` (needs a bound
WeChat, a subscription and a ``wechat_template_id``) and ``sms``; ``("inbox",)`` alone means inbox only.
``urgent`` templates go on the ``urgent`` queue and expire sooner (NOTIFY_URGENT_MAX_AGE_SECONDS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from string import Formatter

from notifications.models import HELD_KINDS, OPTIONAL_KINDS, Channel, MessageKind

CHANNELS = tuple(Channel)
PUSH_CHANNELS = (Channel.WECHAT, Channel.SMS)


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
    kind: MessageKind = MessageKind.RESULT
    title: str = ""
    # WeChat subscribe message: the template id registered in the mini program's console; when empty
    # the template is never sent by WeChat. Keys of ``data`` are the template's parameter names.
    wechat_template_id: str = ""
    wechat_page: str = ""
    # Seconds after which an unsent message is marked failed instead of sent late (None: config default).
    max_age_seconds: int | None = None
    fields_in_body: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = frozenset(name for _, name, _, _ in Formatter().parse(self.body) if name)
        object.__setattr__(self, "fields_in_body", names)
        if names != set(self.params):
            raise TemplateError(f"template {self.code}: body fields {sorted(names)} != params {sorted(self.params)}")
        unknown = set(self.channels) - set(CHANNELS)
        if unknown or not self.channels:
            raise TemplateError(f"template {self.code}: channels must be among {', '.join(CHANNELS)}, got {self.channels}")
        if self.kind is MessageKind.CODE and Channel.INBOX in self.channels:
            raise TemplateError(f"template {self.code}: a code never goes to the inbox")

    def validate(self, params: dict) -> None:
        missing = set(self.params) - set(params)
        extra = set(params) - set(self.params)
        if missing or extra:
            raise TemplateError(f"template {self.code}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        for name, kind in self.params.items():
            if not isinstance(params[name], kind) or (kind is int and isinstance(params[name], bool)):
                raise TemplateError(f"template {self.code}: {name} must be {kind.__name__}")

    def render(self, params: dict) -> str:
        return self.body.format(**params)

    @property
    def has_inbox_copy(self) -> bool:
        return self.kind is not MessageKind.CODE

    @property
    def held(self) -> bool:
        """Quiet hours and the per-phone SMS cap may hold it back (never the inbox copy)."""
        return self.kind in HELD_KINDS and not self.urgent

    @property
    def optional(self) -> bool:
        """The citizen's SMS / WeChat opt-outs apply to it."""
        return self.kind in OPTIONAL_KINDS

    @property
    def push_channels(self) -> tuple[str, ...]:
        return tuple(channel for channel in self.channels if channel in PUSH_CHANNELS)


_TEMPLATES: dict[str, Template] = {}


def register_template(template: Template) -> Template:
    existing = _TEMPLATES.get(template.code)
    if existing is not None and existing.version > template.version:
        return existing
    _TEMPLATES[template.code] = template
    return template


def all_templates() -> list[Template]:
    """Every registered template (the start-up checks walk them)."""
    return list(_TEMPLATES.values())


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
        kind=MessageKind.CODE,
    )
)
