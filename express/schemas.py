"""Request and response schemas of the express API (validation lives here, not in the views)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, validate, validates_schema

from auth.schemas import MobilePhone
from express.models import DeliveryMethod, DeliveryStatus, Direction
from mobile_api import fields
from mobile_api.pagination import PageArgs, page_schema

REGION_CODE = validate.Regexp(r"^\d{6}$", error="应为6位行政区划代码")
PUBLIC_ID = validate.Length(min=1, max=40)
COURIERS = ["sf", "ems", "local"]
# Names as people write them: Chinese, letters, the middle dot of minority names, spaces.
PERSON_NAME = validate.Regexp(r"^[\u4e00-\u9fffA-Za-z·・.\s]{1,30}$", error="请填写收件人真实姓名")


# ------------------------------------------------------------------ regions
class RegionQuery(Schema):
    province = fields.String(validate=REGION_CODE, metadata={"description": "省份代码：返回其城市（直辖市的城市即其本身，如 110000）"})
    city = fields.String(validate=REGION_CODE, metadata={"description": "城市代码：返回其区县（不设区的城市为空）"})


class RegionSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String(metadata={"description": "province | city | district"})


class RegionList(Schema):
    items = fields.List(fields.Nested(RegionSchema))


# ------------------------------------------------------------------ addresses
class AddressWrite(Schema):
    recipient_name = fields.String(required=True, validate=PERSON_NAME)
    phone = MobilePhone(required=True, metadata={"example": "13800138000"})
    province_code = fields.String(required=True, validate=REGION_CODE, metadata={"example": "330000"})
    city_code = fields.String(required=True, validate=REGION_CODE, metadata={"example": "330200"})
    district_code = fields.String(load_default=None, allow_none=True, validate=REGION_CODE, metadata={"example": "330203"})
    street = fields.String(required=True, validate=validate.Length(min=2, max=120), metadata={"example": "鼓楼街道中山西路2号"})
    is_default = fields.Boolean(load_default=False)


class AddressSchema(Schema):
    id = fields.String()
    recipient_name = fields.String(metadata={"description": "masked: 张**"})
    phone = fields.String(metadata={"description": "masked: 138****8000"})
    province_code = fields.String()
    province_name = fields.String()
    city_code = fields.String()
    city_name = fields.String()
    district_code = fields.String(allow_none=True)
    district_name = fields.String(allow_none=True)
    street = fields.String(metadata={"description": "masked"})
    region_text = fields.String()
    is_default = fields.Boolean()
    created_at = fields.DateTime()


class AddressList(Schema):
    items = fields.List(fields.Nested(AddressSchema))


# ------------------------------------------------------------------ delivery choice and payment
class DeliveryChoiceRequest(Schema):
    method = fields.String(required=True, validate=validate.OneOf([method.value for method in DeliveryMethod]))
    address_id = fields.String(load_default=None, allow_none=True, validate=PUBLIC_ID)
    courier = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(COURIERS))

    @validates_schema
    def _address_for_express(self, data, **kwargs):
        if data["method"] == DeliveryMethod.EXPRESS and not data.get("address_id"):
            raise ValidationError("快递寄送请选择收货地址", "address_id")


class PaymentSchema(Schema):
    id = fields.String()
    provider = fields.String()
    amount = fields.String(metadata={"description": "元"})
    status = fields.String()
    paid_at = fields.DateTime(allow_none=True)
    refunded_at = fields.DateTime(allow_none=True)


class DeliveryChoiceSchema(Schema):
    case_no = fields.String()
    method = fields.String()
    courier = fields.String(allow_none=True)
    courier_name = fields.String(allow_none=True)
    address = fields.Nested(AddressSchema, allow_none=True)
    quote = fields.Dict(allow_none=True, metadata={"description": "courier, zone, zone_name, tariff, amount, payer, rule"})
    fee = fields.String(metadata={"description": "what the citizen pays, 元"})
    payer = fields.String(metadata={"description": "citizen | government | cod"})
    payment_state = fields.String(allow_none=True, metadata={"description": "unpaid | paid | government_paid | cod | refunded"})
    payment_state_name = fields.String(allow_none=True)
    refund = fields.String(allow_none=True, metadata={"description": "processing while a refund is on its way"})
    payment = fields.Nested(PaymentSchema, allow_none=True)
    updated_at = fields.DateTime()


class CheckoutSchema(Schema):
    payment = fields.Nested(PaymentSchema)
    provider = fields.String(metadata={"description": "local | wechat"})
    params = fields.Dict(metadata={"description": "wechat: wx.requestPayment parameters; local: sandbox_pay_url"})


class SandboxPaid(Schema):
    outcome = fields.String(metadata={"description": "applied | already | refunding"})
    payment = fields.Nested(PaymentSchema)


# ------------------------------------------------------------------ parcels
class TrackingEventSchema(Schema):
    time = fields.DateTime()
    context = fields.String()
    status = fields.String(allow_none=True)
    status_name = fields.String(allow_none=True)


class PersonSchema(Schema):
    # Masked; null once a closed account's recipient details were erased (the parcel record stays).
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    region_text = fields.String()
    street = fields.String(allow_none=True)


class DeliverySchema(Schema):
    id = fields.String()
    case_no = fields.String(allow_none=True)
    direction = fields.String(metadata={"description": "outbound (证照寄给申请人) | inbound (上门取件寄往大厅)"})
    status = fields.String()
    status_name = fields.String()
    courier = fields.String()
    courier_name = fields.String()
    waybill_no = fields.String(allow_none=True)
    payer = fields.String()
    fee = fields.String()
    cod_amount = fields.String(allow_none=True)
    person = fields.Nested(PersonSchema)
    material_codes = fields.List(fields.String())
    created_at = fields.DateTime()
    booked_at = fields.DateTime(allow_none=True)
    handed_over_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    last_event_at = fields.DateTime(allow_none=True)
    problem = fields.String(allow_none=True)
    can_redeliver = fields.Boolean()
    events = fields.List(fields.Nested(TrackingEventSchema))


class StaffDeliverySchema(DeliverySchema):
    hall_id = fields.Integer(allow_none=True)
    attention = fields.String(allow_none=True, metadata={"description": "failed | stuck | null"})
    booking_attempts = fields.Integer()
    booking_failed = fields.Boolean()
    booking_error = fields.String(allow_none=True)
    tracking_note = fields.String(allow_none=True)
    replaces_id = fields.String(allow_none=True)
    last_activity_at = fields.DateTime()


class CaseDeliverySchema(Schema):
    """The ``delivery`` part of the citizen's case view (``GET /api/v1/cases/<case_no>``)."""

    method = fields.String(allow_none=True)
    courier = fields.String(allow_none=True)
    courier_name = fields.String(allow_none=True)
    fee = fields.String()
    payer = fields.String()
    payment_state = fields.String(allow_none=True)
    payment_state_name = fields.String(allow_none=True)
    pickup_at_window = fields.Boolean()
    parcels = fields.List(fields.Nested(DeliverySchema))


DeliveryPage = page_schema(DeliverySchema, "DeliveryPage")
StaffDeliveryPage = page_schema(StaffDeliverySchema, "StaffDeliveryPage")


class InboundRequest(Schema):
    address_id = fields.String(required=True, validate=PUBLIC_ID)
    material_codes = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), required=True, validate=validate.Length(min=1, max=20)
    )
    courier = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(COURIERS))


class RedeliveryRequest(Schema):
    method = fields.String(required=True, validate=validate.OneOf([method.value for method in DeliveryMethod]))
    address_id = fields.String(load_default=None, allow_none=True, validate=PUBLIC_ID)


class RedeliveryResult(Schema):
    method = fields.String()
    delivery = fields.Nested(DeliverySchema, allow_none=True)


class HandoverRequest(Schema):
    waybill_no = fields.String(required=True, validate=validate.Length(min=4, max=40), metadata={"description": "扫描面单上的运单号"})


class ReceiptRequest(Schema):
    material_codes = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), load_default=None, validate=validate.Length(max=20)
    )


class StaffDeliveryQuery(PageArgs):
    status = fields.String(validate=validate.OneOf([status.value for status in DeliveryStatus]))
    hall = fields.Integer(validate=validate.Range(min=1))
    direction = fields.String(validate=validate.OneOf([direction.value for direction in Direction]))


class StaffRead(Schema):
    reason = fields.String(validate=validate.Length(max=200), metadata={"description": "why the parcel is opened (audit)"})


class PushAnswer(Schema):
    result = fields.Boolean()
    returnCode = fields.String()
    message = fields.String()
