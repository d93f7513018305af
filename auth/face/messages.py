"""What face verification says to citizens: the SMS on success and the zh-CN titles of reason codes."""

from __future__ import annotations

from notifications.templates import Template, register_template

FACE_VERIFIED = register_template(
    Template(
        code="auth.face_verified",
        version=1,
        body="【掌上市民之家】您已于{time}完成实人认证（人脸识别），可办理需要实人认证的事项。如非本人操作，请立即拨打12345。",
        params={"time": str},
        channels=("sms",),
        title="实人认证",
    )
)

REASON_TITLES = {
    "no_face": "未检测到人脸，请正对镜头、露出完整面部",
    "multiple_faces": "画面中有多张人脸，请确保只有您本人",
    "face_too_small": "人脸太小，请靠近镜头",
    "too_dark": "光线太暗，请到明亮处重试",
    "too_blurry": "照片模糊，请保持手机稳定后重试",
    "image_unreadable": "图片无法识别，请重新拍摄",
    "image_too_many_pixels": "图片尺寸过大，请重新拍摄",
    "unsupported_image_format": "图片格式不支持，请使用JPEG、PNG或WebP",
    "image_unprocessable": "图片无法处理，请重新拍摄",
    "frames_identical": "多张照片完全相同，请按提示重新拍摄",
    "frames_not_same_person": "多张照片不是同一个人",
    "frame_not_fresh": "照片不是刚刚拍摄的，请按提示现场拍摄",
    "replayed_frame": "照片已被使用过，请现场重新拍摄",
    "frame_is_reference_photo": "请现场拍摄本人照片，不能上传证件照",
    "action_not_performed": "未检测到要求的转头动作，请按提示重试",
    "face_mismatch": "人脸与身份证照片不一致",
    "no_reference_photo": "未获取到您的身份证照片，请拍摄身份证人像面后重试",
    "reference_unusable": "身份证照片无法用于比对，请拍摄身份证人像面后重试",
    "reference_unavailable": "身份核验服务暂时不可用，请稍后再试",
    "id_card_no_face": "身份证照片中未找到人像，请拍摄身份证人像面",
    "id_card_unreadable": "身份证照片无法识别，请重新拍摄",
    "images_expired": "处理超时，请重新认证",
    "consent_withdrawn": "您已撤回人脸识别授权",
    "internal_error": "系统繁忙，请稍后重试",
}


def reason_title(reason: str, fallback: str | None = None) -> str | None:
    """The zh-CN sentence for a reason code (``fallback`` when the code has none)."""
    return REASON_TITLES.get(reason, fallback)
