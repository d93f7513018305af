"""Express settings: a configuration that could only fail later is refused at start; the simulated
local courier exists in the sandbox only."""

from __future__ import annotations

import pytest

from express import DEFAULTS, DEV_KUAIDI100_SALT, check_settings
from mobile_api.config import ConfigError
from tests.express.conftest import add_address, api, new_case


def test_start_refuses_half_configured_adapters():
    check_settings(dict(DEFAULTS))  # the embedded default is complete
    with pytest.raises(ConfigError, match="WECHATPAY_PRIVATE_KEY"):
        check_settings(dict(DEFAULTS, EXPRESS_PAYMENT_PROVIDER="wechat", WECHATPAY_MCHID="1900000109"))
    with pytest.raises(ConfigError, match="KUAIDI100_KEY"):
        check_settings(dict(DEFAULTS, EXPRESS_TRACKING_PROVIDER="kuaidi100"))
    tracked = dict(DEFAULTS, EXPRESS_TRACKING_PROVIDER="kuaidi100", KUAIDI100_KEY="k", KUAIDI100_CALLBACK_URL="https://x/cb")
    check_settings(tracked)
    with pytest.raises(ConfigError, match="KUAIDI100_SALT"):
        check_settings(tracked | {"PRODUCTION": True, "KUAIDI100_SALT": DEV_KUAIDI100_SALT})
    check_settings(tracked | {"PRODUCTION": True, "KUAIDI100_SALT": "a-real-salt"})


def test_the_local_courier_is_offered_in_the_sandbox_only(client, citizen, items, config_override):
    config_override(EXPRESS_COURIERS="local", SANDBOX_MODE=False)
    case_no = new_case(client, citizen["token"], items["free"])
    address = add_address(client, citizen["token"])["id"]
    refused = api(client, "PUT", f"/api/v1/cases/{case_no}/delivery", citizen["token"], json={"method": "express", "address_id": address})
    assert refused.status_code == 409 and refused.get_json()["code"] == "express_unavailable"
    config_override(SANDBOX_MODE=True)
    chosen = api(client, "PUT", f"/api/v1/cases/{case_no}/delivery", citizen["token"], json={"method": "express", "address_id": address})
    assert chosen.status_code == 200 and chosen.get_json()["courier"] == "local"
