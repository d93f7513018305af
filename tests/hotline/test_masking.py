"""What a caller types is masked before it is published or read out: ID numbers, phones, e-mails,
long digit runs, house and room numbers — and nothing a reader needs is lost."""

from __future__ import annotations

import pytest

from hotline.masking import coarse_address, coarse_coordinate, mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("请回电13800138000，谢谢", "请回电138****8000，谢谢"),
        ("手机 +86 138 0013 8000", "手机 138****8000"),
        ("１３８００１３８０００", "138****8000"),
        ("我的身份证330203198503120016号", "我的身份证330203********0016号"),
        ("身份证11010519491231002x", "身份证110105********002X"),
        ("校验位错了也要遮：330203198503120017", "校验位错了也要遮：330203********0017"),
        ("老身份证330203850312001", "老身份证330203*****2001"),
        ("座机0574-87654321", "座机05********21"),
        ("邮箱zhang.san@example.com", "邮箱z***@example.com"),
        ("卡号6222020200112233445", "卡号62***************45"),
        ("住中山西路128号3单元502室", "住中山西路*号*单元*室"),
        ("办件号NB2611-K7M3Q，3号窗口，2026年11月23日", "办件号NB2611-K7M3Q，3号窗口，2026年11月23日"),
    ],
)
def test_mask_text(text, masked):
    assert mask_text(text) == masked


def test_nothing_to_mask_and_none():
    assert mask_text(None) is None
    assert mask_text("井盖缺失") == "井盖缺失"


def test_coarse_location():
    assert coarse_coordinate(29.871234) == 29.87 and coarse_coordinate(None) is None
    assert coarse_address("海曙区中山西路128号") == "海曙区中山西路*号" and coarse_address(None) is None
