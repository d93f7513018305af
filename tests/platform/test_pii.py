import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import text

from auth.models import Account
from mobile_api.extensions import db
from mobile_api.pii import blind_index, decrypt_text, encrypt_text, mask_id_number, mask_name, mask_phone


def test_masks():
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_phone("13800138000") == "138****8000"
    assert mask_name("王建国") == "王**"
    assert mask_name(None) is None


def test_encryption_round_trip_is_randomised_and_bound_to_context(app_context):
    first, second = encrypt_text("张伟", "a"), encrypt_text("张伟", "a")
    assert first != second  # fresh nonce each time
    assert decrypt_text(first, "a") == "张伟"
    with pytest.raises(InvalidTag):  # the context is authenticated data: another one does not open it
        decrypt_text(first, "b")
    with pytest.raises(InvalidTag):  # nor does a ciphertext changed by one bit
        decrypt_text(first[:-1] + bytes([first[-1] ^ 1]), "a")


def test_blind_index_is_normalised_and_keyed(app_context):
    assert blind_index("11010519491231002x", "id_number") == blind_index(" 11010519491231002X", "id_number")
    assert blind_index("11010519491231002X", "id_number") != blind_index("11010519491231002X", "other")


def test_names_and_id_numbers_are_not_stored_in_clear(app_context):
    account = Account(phone="13900000001", name="测试人", id_number="11010519491231002X", id_number_index="x" * 64)
    db.session.add(account)
    db.session.flush()
    raw = db.session.execute(text("SELECT name, id_number FROM accounts WHERE id = :id"), {"id": account.id}).one()
    assert "测试人".encode() not in bytes(raw.name)
    assert b"11010519491231002X" not in bytes(raw.id_number)
    db.session.rollback()
