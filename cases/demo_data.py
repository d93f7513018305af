"""Demo catalog: the city's departments and realistic service items (embedded default only)."""

from __future__ import annotations

from sqlalchemy import select

from cases.models import INSTANT, PROMISED, Department, ServiceItem
from mobile_api.extensions import db

DEPARTMENTS = [
    ("GA", "市公安局", "0574-12345"),
    ("SCJG", "市市场监督管理局", "0574-12315"),
    ("ZRZY", "市自然资源和规划局（不动产登记中心）", "0574-12345"),
    ("RS", "市人力资源和社会保障局", "0574-12333"),
    ("MZ", "市民政局", "0574-12345"),
    ("WJ", "市卫生健康委员会", "0574-12320"),
    ("YB", "市医疗保障局", "0574-12345"),
    ("GJJ", "市住房公积金管理中心", "0574-12329"),
    ("SW", "国家税务总局市税务局", "0574-12366"),
    ("JT", "市交通运输局", "0574-12328"),
    ("ZJ", "市住房和城乡建设局", "0574-12345"),
]

IMAGE_OR_PDF = ["jpg", "png", "pdf"]


def material(code, name, required=True, kind="original", count=1, notes="", certificate_kind=None):
    return {
        "code": code,
        "name": name,
        "required": required,
        "original_or_copy": kind,
        "count": count,
        "formats": IMAGE_OR_PDF,
        "notes": notes,
        "certificate_kind": certificate_kind,
    }


ID_CARD = material("id_card", "申请人居民身份证", notes="正反面各一张", certificate_kind="居民身份证")
HUKOU = material("hukou", "居民户口簿", notes="户主页及本人页", certificate_kind="居民户口簿")
PHOTO = material("photo", "近期免冠证件照", notes="白底，JPG，不小于 358×441 像素")

FIELD_PHONE = {"name": "contact_phone", "label": "联系电话", "type": "string", "required": True}
FIELD_ADDRESS = {"name": "address", "label": "联系地址", "type": "string", "required": False}

# code, name, department, type, audience, categories, keywords, statutory, promised, fee, level,
# online, visit, bookable, deliverable, parallel, materials, steps, extra form fields, basis
ITEMS = [
    ("330200-GA-001", "居民身份证换领", "GA", PROMISED, "individual", ["证件办理"], ["身份证", "换证", "到期"], 60, 20, 20, 3, False, True, True, True, [],
     [ID_CARD, PHOTO, HUKOU], ["受理", "采集指纹与照片", "审核", "制证", "发证"], [], "《中华人民共和国居民身份证法》第十一条"),
    ("330200-GA-002", "居民身份证首次申领", "GA", PROMISED, "individual", ["出生", "证件办理"], ["身份证", "首次", "十六周岁"], 60, 20, 0, 2, False, True, True, True, [],
     [HUKOU, PHOTO, material("guardian_id", "监护人居民身份证", required=False, notes="未满十六周岁由监护人陪同")], ["受理", "采集", "审核", "制证", "发证"], [], "《中华人民共和国居民身份证法》第二条"),
    ("330200-GA-003", "户口迁入（投靠亲属）", "GA", PROMISED, "individual", ["结婚", "迁居"], ["户口", "落户", "投靠"], 20, 10, 0, 2, False, True, True, False, [],
     [ID_CARD, HUKOU, material("relation_proof", "亲属关系证明", notes="结婚证、出生医学证明等", certificate_kind="结婚证"),
      material("housing_proof", "住房证明", notes="不动产权证书或租赁备案", certificate_kind="不动产权证书")], ["受理", "审核", "审批", "办结"], [FIELD_ADDRESS], "《中华人民共和国户口登记条例》"),
    ("330200-GA-004", "居住证申领", "GA", PROMISED, "individual", ["就业", "迁居"], ["居住证", "流动人口"], 15, 7, 0, 2, True, False, False, True, [],
     [ID_CARD, PHOTO, material("residence_proof", "居住证明", notes="租赁合同或单位证明")], ["受理", "审核", "制证", "发证"], [FIELD_ADDRESS], "《居住证暂行条例》"),
    ("330200-GA-005", "机动车驾驶证期满换证", "GA", INSTANT, "individual", ["证件办理"], ["驾驶证", "换证", "驾照"], 1, 0, 10, 3, True, False, True, True, [],
     [ID_CARD, material("medical_cert", "驾驶人身体条件证明")], ["受理", "审核", "制证"], [], "《机动车驾驶证申领和使用规定》"),
    ("330200-ZRZY-001", "不动产转移登记（二手房买卖）", "ZRZY", PROMISED, "individual", ["购房"], ["不动产", "过户", "二手房", "房产证"], 30, 3, 80, 3, False, True, True, True, ["ZRZY", "SW", "ZJ"],
     [ID_CARD, material("property_cert", "不动产权证书", certificate_kind="不动产权证书"), material("sale_contract", "存量房买卖合同"),
      material("tax_receipt", "完税凭证", notes="可由税务部门并联推送", required=False)], ["受理", "审核", "登簿", "缮证", "发证"],
     [{"name": "property_address", "label": "不动产坐落", "type": "string", "required": True}, {"name": "price", "label": "成交价格（元）", "type": "number", "required": True}],
     "《不动产登记暂行条例》第二十条"),
    ("330200-ZRZY-002", "不动产抵押登记", "ZRZY", PROMISED, "individual", ["购房"], ["抵押", "房贷", "不动产"], 30, 3, 80, 2, True, False, True, True, [],
     [ID_CARD, material("property_cert", "不动产权证书", certificate_kind="不动产权证书"), material("loan_contract", "主债权合同及抵押合同")], ["受理", "审核", "登簿", "发证"], [], "《不动产登记暂行条例》"),
    ("330200-ZRZY-003", "不动产权证书补证", "ZRZY", PROMISED, "individual", ["购房"], ["补证", "遗失", "房产证"], 30, 10, 80, 3, False, True, True, True, [],
     [ID_CARD, material("loss_statement", "遗失声明")], ["受理", "公告", "审核", "缮证", "发证"], [], "《不动产登记暂行条例实施细则》第二十二条"),
    ("330200-SCJG-001", "食品经营许可", "SCJG", PROMISED, "enterprise", ["开办企业"], ["食品", "餐饮", "许可证", "开店"], 20, 5, 0, 2, True, True, True, True, [],
     [material("business_license", "营业执照", certificate_kind="营业执照"), material("site_plan", "经营场所平面图"), material("food_safety_rules", "食品安全管理制度"),
      material("legal_rep_id", "法定代表人身份证", certificate_kind="居民身份证")], ["受理", "现场核查", "审核", "发证"],
     [{"name": "business_scope", "label": "经营项目", "type": "string", "required": True}], "《中华人民共和国食品安全法》第三十五条"),
    ("330200-SCJG-002", "个体工商户设立登记", "SCJG", INSTANT, "individual", ["开办企业", "就业"], ["个体户", "营业执照", "开店"], 15, 0, 0, 2, True, False, False, True, [],
     [ID_CARD, material("premises_proof", "经营场所使用证明")], ["受理", "核准", "发照"], [{"name": "trade_name", "label": "字号名称", "type": "string", "required": True}], "《促进个体工商户发展条例》"),
    ("330200-SCJG-003", "有限责任公司设立登记", "SCJG", PROMISED, "enterprise", ["开办企业"], ["公司", "注册", "营业执照", "开办企业"], 15, 1, 0, 2, True, False, False, True, ["SCJG", "SW", "RS"],
     [material("articles", "公司章程"), material("shareholder_ids", "股东主体资格证明"), material("premises_proof", "住所使用证明"), ID_CARD], ["受理", "审核", "核准", "发照"],
     [{"name": "company_name", "label": "企业名称", "type": "string", "required": True}, {"name": "capital", "label": "注册资本（万元）", "type": "number", "required": True}],
     "《中华人民共和国市场主体登记管理条例》"),
    ("330200-SCJG-004", "企业名称变更登记", "SCJG", PROMISED, "enterprise", ["企业变更"], ["更名", "名称变更"], 15, 2, 0, 2, True, False, False, True, [],
     [material("business_license", "营业执照", certificate_kind="营业执照"), material("resolution", "股东会决议")], ["受理", "核准", "换照"], [], "《中华人民共和国市场主体登记管理条例》"),
    ("330200-RS-001", "社会保障卡申领", "RS", PROMISED, "individual", ["就业", "出生"], ["社保卡", "市民卡"], 20, 10, 0, 2, True, False, True, True, [],
     [ID_CARD, PHOTO], ["受理", "制卡", "发卡"], [], "《社会保障卡管理办法》"),
    ("330200-RS-002", "失业保险金申领", "RS", PROMISED, "individual", ["失业"], ["失业金", "失业保险"], 10, 3, 0, 2, True, False, False, False, [],
     [ID_CARD, material("termination_proof", "解除或终止劳动关系证明"), material("bank_card", "本人银行卡")], ["受理", "审核", "发放"], [], "《失业保险条例》第十四条"),
    ("330200-RS-003", "职工退休申请", "RS", PROMISED, "individual", ["退休"], ["退休", "养老金"], 20, 10, 0, 3, False, True, True, False, ["RS", "YB"],
     [ID_CARD, HUKOU, material("personnel_file", "职工档案", notes="由单位提交")], ["受理", "审核", "审批", "待遇核定"], [], "《国务院关于工人退休、退职的暂行办法》"),
    ("330200-RS-004", "灵活就业人员参保登记", "RS", INSTANT, "individual", ["就业"], ["灵活就业", "参保", "社保"], 1, 0, 0, 2, True, False, False, False, [],
     [ID_CARD], ["受理", "登记"], [], "《中华人民共和国社会保险法》第十条"),
    ("330200-MZ-001", "内地居民结婚登记", "MZ", INSTANT, "individual", ["结婚"], ["结婚", "领证", "婚姻登记"], 1, 0, 0, 2, False, True, True, False, [],
     [ID_CARD, HUKOU, material("spouse_id", "另一方居民身份证"), material("marriage_photo", "双方合影2寸照片", count=3)], ["预约", "受理", "审查", "颁证"], [], "《婚姻登记条例》第五条"),
    ("330200-MZ-002", "老年人高龄津贴申领", "MZ", PROMISED, "individual", ["退休", "养老"], ["高龄津贴", "老年人"], 20, 10, 0, 2, True, False, False, False, [],
     [ID_CARD, material("bank_card", "本人银行卡")], ["受理", "审核", "发放"], [], "《老年人权益保障法》"),
    ("330200-WJ-001", "出生医学证明首次签发", "WJ", INSTANT, "individual", ["出生"], ["出生证", "新生儿"], 1, 0, 0, 2, False, True, True, False, [],
     [material("mother_id", "母亲居民身份证"), material("father_id", "父亲居民身份证", required=False), material("birth_record", "分娩记录")], ["受理", "签发"], [], "《中华人民共和国母婴保健法》第二十三条"),
    ("330200-YB-001", "新生儿参加城乡居民医保", "YB", INSTANT, "individual", ["出生"], ["新生儿", "医保", "参保"], 1, 0, 0, 2, True, False, False, False, [],
     [material("birth_cert", "出生医学证明", certificate_kind="出生医学证明"), HUKOU], ["受理", "登记"], [], "《中华人民共和国社会保险法》第二十五条"),
    ("330200-YB-002", "基本医疗保险关系转移接续", "YB", PROMISED, "individual", ["就业", "迁居"], ["医保转移", "医保"], 45, 15, 0, 2, True, False, False, False, [],
     [ID_CARD, material("insurance_proof", "参保凭证")], ["受理", "联系转出地", "接续"], [], "《流动就业人员基本医疗保障关系转移接续暂行办法》"),
    ("330200-GJJ-001", "住房公积金提取（购买自住住房）", "GJJ", PROMISED, "individual", ["购房"], ["公积金", "提取", "买房"], 5, 1, 0, 2, True, False, True, False, [],
     [ID_CARD, material("purchase_contract", "购房合同或不动产权证书", certificate_kind="不动产权证书"), material("bank_card", "本人银行卡")], ["受理", "审核", "转账"], [], "《住房公积金管理条例》第二十四条"),
    ("330200-GJJ-002", "住房公积金个人贷款", "GJJ", PROMISED, "individual", ["购房"], ["公积金贷款", "房贷"], 15, 10, 0, 3, False, True, True, False, ["GJJ", "ZRZY"],
     [ID_CARD, material("marriage_cert", "婚姻状况证明", certificate_kind="结婚证"), material("purchase_contract", "购房合同"), material("income_proof", "收入证明")], ["受理", "审核", "审批", "签约", "放款"],
     [{"name": "loan_amount", "label": "申请贷款金额（万元）", "type": "number", "required": True}], "《住房公积金管理条例》第二十六条"),
    ("330200-SW-001", "个人所得税综合所得汇算清缴退税", "SW", PROMISED, "individual", ["就业"], ["个税", "退税", "汇算"], 20, 5, 0, 2, True, False, False, False, [],
     [ID_CARD, material("bank_card", "本人银行卡")], ["受理", "审核", "退税"], [], "《中华人民共和国个人所得税法》第十三条"),
    ("330200-JT-001", "道路运输经营许可（货运）", "JT", PROMISED, "enterprise", ["开办企业"], ["道路运输", "货运", "许可证"], 20, 10, 0, 2, True, True, True, True, [],
     [material("business_license", "营业执照", certificate_kind="营业执照"), material("vehicle_list", "拟投入车辆情况"), material("safety_rules", "安全生产管理制度")], ["受理", "审核", "发证"], [],
     "《中华人民共和国道路运输条例》第二十四条"),
]


def seed_catalog(hall_ids: list[int]) -> int:
    for code, name, phone in DEPARTMENTS:
        if db.session.get(Department, code) is None:
            db.session.add(Department(code=code, name=name, phone=phone))
    db.session.flush()
    added = 0
    for row in ITEMS:
        (code, name, dept, item_type, audience, categories, keywords, statutory, promised, fee, level,
         online, visit, bookable, deliverable, parallel, materials, steps, form_fields, basis) = row
        if db.session.scalar(select(ServiceItem.id).where(ServiceItem.code == code)) is not None:
            continue
        db.session.add(
            ServiceItem(
                code=code, version=1, is_current=True, name=name, department_code=dept, item_type=item_type, audience=audience,
                categories=categories, keywords=keywords, legal_basis=basis,
                acceptance_conditions="申请人身份真实、材料齐全且符合法定形式",
                materials=materials, steps=steps, form_fields=[FIELD_PHONE, *form_fields],
                statutory_days=statutory, promised_days=promised, fee=fee, fee_notes="不收费" if not fee else "按规定收取工本费",
                required_level=level, fully_online=online, needs_visit=visit, bookable=bookable, deliverable=deliverable,
                parallel_departments=parallel, hall_ids=hall_ids,
            )
        )
        added += 1
    db.session.commit()
    return added
