"""The delivery fee quote: by item, courier and region.

The courier's tariff depends on the zone between the sending hall's city (``EXPRESS_ORIGIN_REGION``)
and the address: same city, same province, elsewhere on the mainland, or a remote region. The item
decides who pays (``cases.models.DeliveryPayer``) and may fix the fee itself (``delivery_fee``): a
government-paid item costs the citizen nothing whatever the tariff; cash on delivery is paid to the
courier at the door, never online. Amounts are integers in fen (分), as payment providers want them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cases.fulfilment import DeliveryCase
from cases.models import DeliveryPayer
from express.models import PaymentState
from express.regions import ResolvedRegion

# Tariffs in fen for one document envelope, by zone. Illustrative published rates for a ≤ 0.5 kg
# 文件封 in 2026; a contract rate goes here when the city signs one.
TARIFFS: dict[str, dict[str, int]] = {
    "sf": {"same_city": 1200, "same_province": 1300, "mainland": 1800, "remote": 3000},
    "ems": {"same_city": 1000, "same_province": 1200, "mainland": 1500, "remote": 2500},
    "local": {"same_city": 800, "same_province": 1000, "mainland": 1200, "remote": 2000},
}
REMOTE_PROVINCES = {"540000", "650000", "630000", "150000"}  # 西藏, 新疆, 青海, 内蒙古
ZONE_NAMES = {"same_city": "同城", "same_province": "省内", "mainland": "省外", "remote": "偏远地区"}


@dataclass(frozen=True)
class Quote:
    courier: str
    zone: str
    tariff_cents: int  # what the courier charges
    amount_cents: int  # what the citizen pays (online, or at the door for cash on delivery)
    payer: str
    payment_state: str  # the state a new choice starts in
    rule: str  # zh-CN: why this amount

    def as_dict(self) -> dict:
        return {
            "courier": self.courier,
            "zone": self.zone,
            "zone_name": ZONE_NAMES[self.zone],
            "tariff": yuan(self.tariff_cents),
            "amount": yuan(self.amount_cents),
            "payer": self.payer,
            "rule": self.rule,
        }


def yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def zone(origin_city: str, destination: ResolvedRegion) -> str:
    if destination.province.code in REMOTE_PROVINCES:
        return "remote"
    if destination.city.code == origin_city:
        return "same_city"
    if destination.province.code[:2] == origin_city[:2]:
        return "same_province"
    return "mainland"


def quote(case: DeliveryCase, courier: str, destination: ResolvedRegion, origin_city: str) -> Quote:
    where = zone(origin_city, destination)
    tariff = TARIFFS[courier][where]
    fixed = int(case.delivery_fee * 100) if case.delivery_fee is not None else None
    amount = tariff if fixed is None else fixed
    if case.delivery_payer == DeliveryPayer.GOVERNMENT:
        return Quote(courier, where, tariff, 0, case.delivery_payer, PaymentState.GOVERNMENT_PAID, "此事项快递费用由政府承担")
    if case.delivery_payer == DeliveryPayer.COD:
        return Quote(courier, where, tariff, amount, case.delivery_payer, PaymentState.COD, "快递费用到付，签收时支付给快递员")
    if amount == 0:
        return Quote(courier, where, tariff, 0, case.delivery_payer, PaymentState.GOVERNMENT_PAID, "此事项免收快递费")
    rule = f"按{ZONE_NAMES[where]}资费" if fixed is None else "此事项统一快递费"
    return Quote(courier, where, tariff, amount, case.delivery_payer, PaymentState.UNPAID, rule)


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())
