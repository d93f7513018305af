"""Per-provider template codes and parameter mappings, and the start-up check that every SMS template has one.

In mainland China an SMS goes out only as a template approved in the provider's console, under a
registered signature (签名), with parameters — never as free text. Each provider numbers its templates
itself, so the mapping is configuration (``SMS_VENDOR_TEMPLATES``): inline JSON, or the path of a TOML or
JSON file, keyed by provider and then by our template code::

    [aliyun."auth.sms_code"]
    template = "SMS_154950909"
    params = { code = "code", minutes = "minutes" }   # the provider's ${variable} → our parameter

    [tencent."auth.sms_code"]
    template = "1234567"
    params = ["code", "minutes"]                      # {1}, {2}, … in order

Values are sent as text. At start-up (``check_vendor_templates``) every registered template that can go
by SMS must have a mapping for every configured provider, naming only parameters the template has.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from mobile_api.settings import setting
from notifications.channels import ChannelError
from notifications.models import Channel
from notifications.templates import all_templates, get_template


@dataclass(frozen=True)
class VendorTemplate:
    code: str  # the provider's template code / id
    params: tuple[str, ...] | dict[str, str]  # tencent: our names in order; aliyun: provider variable → our name

    def aliyun_params(self, params: dict) -> str:
        return json.dumps({variable: str(params[ours]) for variable, ours in dict(self.params).items()}, ensure_ascii=False)

    def tencent_params(self, params: dict) -> list[str]:
        return [str(params[ours]) for ours in self.params]


def _load(raw) -> dict:
    if isinstance(raw, dict):
        return raw
    text = (raw or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        return json.loads(text)
    path = Path(text)
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.suffix == ".toml" else json.loads(path.read_text(encoding="utf-8"))


def vendor_templates() -> dict:
    """The parsed mapping (cached per app and setting value)."""
    raw = setting("SMS_VENDOR_TEMPLATES")
    cache = current_app.extensions.setdefault("sms_vendor_templates", {})
    key = raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True)
    if key not in cache:
        cache[key] = _load(raw)
    return cache[key]


def vendor_template(provider: str, template_code: str) -> VendorTemplate:
    entry = vendor_templates().get(provider, {}).get(template_code)
    if not entry:
        # Not retried: the same configuration would refuse it again (the start-up check prevents this).
        raise ChannelError(f"{provider}: no template mapping for {template_code}", permanent=True, provider_fault=False)
    params = entry.get("params", [])
    return VendorTemplate(str(entry["template"]), tuple(params) if isinstance(params, list) else dict(params))


def mapping_problems(provider: str) -> list[str]:
    """What is missing or wrong in ``provider``'s mapping, for every template that can go by SMS."""
    problems = []
    configured = vendor_templates().get(provider, {})
    for template in all_templates():
        if Channel.SMS not in template.channels:
            continue
        entry = configured.get(template.code)
        if not entry or not entry.get("template"):
            problems.append(f"{provider}: no template code for {template.code}")
            continue
        params = entry.get("params", [])
        ours = list(params.values()) if isinstance(params, dict) else list(params)
        if provider == "tencent" and not isinstance(params, list):
            problems.append(f"tencent: params of {template.code} must be a list (the order of {{1}}, {{2}}, …)")
        if provider == "aliyun" and not isinstance(params, dict):
            problems.append(f"aliyun: params of {template.code} must map the template's variables to our parameters")
        unknown = sorted(set(ours) - set(get_template(template.code).params))
        if unknown:
            problems.append(f"{provider}: {template.code} maps unknown parameters {unknown}")
    return problems
