"""A citizen's delivery addresses (收货地址): name, mainland mobile, GB/T 2260 region, street, default flag.

Name, mobile and street are encrypted at rest and masked in every response; another citizen's address
is a 404 (the same answer as no address). At most ``EXPRESS_MAX_ADDRESSES`` per citizen; exactly one
default once there is any (the first is the default; choosing another default unsets the old one).
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from express.models import Address, Delivery, DeliveryChoice, DeliveryMethod, DeliveryStatus, Direction
from express.regions import RegionError, resolve
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pii import mask_name, mask_phone
from mobile_api.settings import setting
from mobile_api.transactions import transaction


def own_address(account_id: str, address_id: str) -> Address:
    address = db.session.scalar(select(Address).where(Address.id == address_id, Address.account_id == account_id))
    if address is None:
        raise Problem(404, "address_not_found", "未找到该收货地址", address_id=address_id)
    return address


def list_addresses(account_id: str) -> list[dict]:
    rows = db.session.scalars(
        select(Address).where(Address.account_id == account_id).order_by(Address.is_default.desc(), Address.created_at.desc())
    )
    return [address_view(address) for address in rows]


def create_address(account_id: str, values: dict) -> dict:
    with transaction():
        _lock_account_addresses(account_id)
        count = db.session.scalar(select(func.count()).where(Address.account_id == account_id)) or 0
        if count >= setting("EXPRESS_MAX_ADDRESSES"):
            raise Problem(409, "too_many_addresses", "收货地址数量已达上限，请先删除不用的地址", limit=setting("EXPRESS_MAX_ADDRESSES"))
        address = Address(account_id=account_id, **_checked(values))
        address.is_default = bool(values.get("is_default")) or count == 0
        if address.is_default:
            _unset_default(account_id, keep=None)
        db.session.add(address)
        _flush_one_default()
        return address_view(address)


def update_address(account_id: str, address_id: str, values: dict) -> dict:
    with transaction():
        address = own_address(account_id, address_id)
        for name, value in _checked(values).items():
            setattr(address, name, value)
        if values.get("is_default") and not address.is_default:
            _unset_default(account_id, keep=address.id)
            address.is_default = True
        _flush_one_default()
        return address_view(address)


def delete_address(account_id: str, address_id: str) -> None:
    """Parcels keep their own copy of the address, so deleting it changes no parcel under way."""
    with transaction():
        address = own_address(account_id, address_id)
        if _awaiting_shipment_to(address.id):
            raise Problem(409, "address_in_use", "该地址是待寄出证照的收货地址，请先更改领取方式", address_id=address_id)
        was_default = address.is_default
        db.session.delete(address)
        db.session.flush()
        if was_default:
            newest = db.session.scalar(select(Address).where(Address.account_id == account_id).order_by(Address.created_at.desc()).limit(1))
            if newest is not None:
                newest.is_default = True


def _awaiting_shipment_to(address_id: str) -> bool:
    """A case chose this address for a certificate that has not been sent yet (its parcel is made at issue)."""
    shipped = (
        select(Delivery.id)
        .where(
            Delivery.case_id == DeliveryChoice.case_id,
            Delivery.direction == Direction.OUTBOUND,
            Delivery.status != DeliveryStatus.CANCELLED,
        )
        .exists()
    )
    statement = select(DeliveryChoice.id).where(
        DeliveryChoice.address_id == address_id, DeliveryChoice.method == DeliveryMethod.EXPRESS, ~shipped
    )
    return db.session.scalar(statement.limit(1)) is not None


def _checked(values: dict) -> dict:
    """The writable fields, with the region codes checked as one GB/T 2260 path and their names added."""
    try:
        region = resolve(values["province_code"], values["city_code"], values.get("district_code"))
    except RegionError as exc:
        raise Problem(422, "region_invalid", "省市区选择有误", errors={exc.field: [str(exc)]}) from None
    return {
        "recipient_name": values["recipient_name"],
        "phone": values["phone"],
        "street": values["street"],
        "province_code": region.province.code,
        "province_name": region.province.name,
        "city_code": region.city.code,
        "city_name": region.city.name,
        "district_code": region.district.code if region.district else None,
        "district_name": region.district.name if region.district else None,
    }


def _lock_account_addresses(account_id: str) -> None:
    # Concurrent creations by one citizen: taking the citizen's default-address row first (a no-op
    # conditional UPDATE) makes them wait for each other, on PostgreSQL and on SQLite alike.
    db.session.execute(
        update(Address)
        .where(Address.account_id == account_id, Address.is_default.is_(True))
        .values(is_default=True)
        .execution_options(synchronize_session=False)
    )


def _unset_default(account_id: str, keep: str | None) -> None:
    statement = update(Address).where(Address.account_id == account_id, Address.is_default.is_(True))
    if keep is not None:
        statement = statement.where(Address.id != keep)
    db.session.execute(statement.values(is_default=False).execution_options(synchronize_session=False))


def _flush_one_default() -> None:
    # A partial unique index allows one default address per citizen: a concurrent change that made
    # another default first wins, this one is told to retry.
    try:
        db.session.flush()
    except IntegrityError:
        raise Problem(409, "address_changed", "收货地址刚刚被修改，请刷新后重试") from None


def mask_street(street: str) -> str:
    """``鼓楼街道中山西路2号3幢501室`` → ``鼓楼街道中山****``: enough to recognise, not to find the door."""
    keep = max(2, min(8, len(street) // 2))
    return street[:keep] + "****"


def region_text(province: str, city: str, district: str | None) -> str:
    return province + ("" if city == province else city) + (district or "")


def address_view(address: Address) -> dict:
    return {
        "id": address.id,
        "recipient_name": mask_name(address.recipient_name),
        "phone": mask_phone(address.phone),
        "province_code": address.province_code,
        "province_name": address.province_name,
        "city_code": address.city_code,
        "city_name": address.city_name,
        "district_code": address.district_code,
        "district_name": address.district_name,
        "street": mask_street(address.street),
        "region_text": region_text(address.province_name, address.city_name, address.district_name),
        "is_default": address.is_default,
        "created_at": address.created_at,
    }
