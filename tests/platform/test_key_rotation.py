"""Key rotation: data written under key 1, rotate to key 2, everything readable and searchable, key 1
removed from the configuration → still readable. The same for JWT signing keys (refresh tokens survive).

The session's database is shared with the other tests, so each test leaves every value back under the
session's own keys (``k0``, the single-key settings) before it ends.
"""

from __future__ import annotations

import base64
import os
import threading

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary, select, text, type_coerce

from auth.face.models import ReferencePhoto
from auth.models import Account, Resident
from auth.service import add_resident, verify_identity
from mobile_api.config import DEV_PII_ENCRYPTION_KEY, DEV_PII_INDEX_KEY, ConfigError
from mobile_api.extensions import db
from mobile_api.key_rotation import LEGACY, UNKNOWN, rotate, status
from mobile_api.pii import blind_index, decrypt_text, index_digest, index_matches
from mobile_api.transactions import transaction
from tests.support import bearer, random_id_number, random_name, sign_in, unique_phone

KEY1, KEY2 = base64.b64encode(os.urandom(32)).decode(), base64.b64encode(os.urandom(32)).decode()
SESSION_RING = f"k0:{DEV_PII_ENCRYPTION_KEY}"
SESSION_INDEX_RING = f"k0:{DEV_PII_INDEX_KEY}"


@pytest.fixture()
def keys(app):
    """Set the PII key rings of this process for one test; afterwards every value is rotated back to k0."""
    saved = {name: app.config.get(name) for name in ("PII_ENCRYPTION_KEYS", "PII_INDEX_KEYS")}

    def use(encryption: str, index: str) -> None:
        app.config["PII_ENCRYPTION_KEYS"], app.config["PII_INDEX_KEYS"] = encryption, index

    yield use
    with app.app_context():
        use(f"{SESSION_RING},k2:{KEY2},k1:{KEY1}", f"{SESSION_INDEX_RING},k2:idx-two,k1:idx-one")
        rotate()
        db.session.remove()
    app.config.update(saved)


def _by_key(column: str) -> dict[str, int]:
    line = next(line for line in status() if line["column"] == column)
    return {kid: count for kid, count in line["by_key"].items() if count}


def _legacy_ciphertext(plaintext: str, context: str, key_b64: str) -> bytes:
    """What version 1 wrote: 0x01 || nonce || AES-GCM, no key id."""
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(base64.b64decode(key_b64)).encrypt(nonce, plaintext.encode(), context.encode())


def test_rotation_keeps_everything_readable_and_searchable_and_the_old_key_removable(app, app_context, keys):
    keys(f"k1:{KEY1},{SESSION_RING}", f"k1:idx-one,{SESSION_INDEX_RING}")
    name, id_number = random_name(), random_id_number()
    add_resident(name, id_number, "test")
    with transaction():
        account = Account(phone=unique_phone(), level=1)
        db.session.add(account)
    verify_identity(account, name, id_number)
    account_id = account.id
    # A reference photo imported before 0009: only the (bare, legacy) index, no number — and a
    # version-1 name written before key ids existed.
    photo_number = random_id_number()
    add_resident("旧照片", photo_number, "test")
    legacy_index = index_digest(DEV_PII_INDEX_KEY.encode(), photo_number, "id_number")
    with transaction():
        db.session.add(
            ReferencePhoto(id_number_index=legacy_index, photo=base64.b64encode(b"photo").decode(), content_type="image/jpeg", source="t")
        )
        db.session.execute(
            text("UPDATE accounts SET name = :name WHERE id = :id").bindparams(
                name=_legacy_ciphertext(name, "account.name", DEV_PII_ENCRYPTION_KEY), id=account_id
            )
        )
    assert _by_key("accounts.id_number")["k1"] >= 1 and _by_key("accounts.id_number_index")["k1"] >= 1
    assert _by_key("accounts.name")[LEGACY] >= 1 and _by_key("reference_photos.id_number_index")[LEGACY] >= 1

    # Key 2 becomes the newest: everything still readable and searchable before any rotation.
    keys(f"k2:{KEY2},k1:{KEY1},{SESSION_RING}", f"k2:idx-two,k1:idx-one,{SESSION_INDEX_RING}")
    db.session.expire_all()
    assert db.session.get(Account, account_id).id_number == id_number
    assert db.session.scalar(select(Account.id).where(index_matches(Account.id_number_index, id_number, "id_number"))) == account_id
    assert db.session.scalar(
        select(ReferencePhoto.content_type).where(index_matches(ReferencePhoto.id_number_index, photo_number, "id_number"))
    )

    report = rotate(batch_size=7)  # small batches: the walk over several pages is exercised
    assert report.unresolved == [] and report.rewritten > 0 and report.sources_filled >= 1
    for line in status():
        assert set(k for k, n in line["by_key"].items() if n) <= {"k2"}, line
    assert rotate().rewritten == 0  # resumable: a second run finds nothing left to do

    # Key 1 (and the session's k0) removed: still readable, still searchable, the raw values name k2.
    keys(f"k2:{KEY2}", "k2:idx-two")
    db.session.expire_all()
    reread = db.session.get(Account, account_id)
    assert (reread.name, reread.id_number, reread.id_number_index) == (name, id_number, blind_index(id_number, "id_number"))
    assert reread.id_number_index.startswith("k2:")
    assert db.session.scalar(select(Resident.name).where(index_matches(Resident.id_number_index, id_number, "id_number"))) == name
    photo = db.session.scalar(select(ReferencePhoto).where(index_matches(ReferencePhoto.id_number_index, photo_number, "id_number")))
    assert photo is not None and photo.id_number == photo_number
    raw = db.session.scalar(select(type_coerce(Account.id_number, LargeBinary())).where(Account.id == account_id))
    assert bytes(raw)[:4] == b"\x02\x02k2"
    # A second account with the same ID number is still refused (the look-up finds the rotated index).
    with transaction():
        other = Account(phone=unique_phone(), level=1)
        db.session.add(other)
    with pytest.raises(Exception) as refused:
        verify_identity(other, name, id_number)
    assert getattr(refused.value, "code", None) == "id_number_bound_elsewhere"


def test_unknown_key_is_reported_and_never_guessed(app, app_context, keys):
    keys(f"k1:{KEY1},{SESSION_RING}", f"k1:idx-one,{SESSION_INDEX_RING}")
    with transaction():
        account = Account(phone=unique_phone(), level=2, name="周敏")
        db.session.add(account)
        db.session.flush()
        account_id = account.id
    keys(SESSION_RING, SESSION_INDEX_RING)  # k1 forgotten before rotating: its values are unknown
    assert _by_key("accounts.name").get(UNKNOWN, 0) >= 1
    raw = db.session.scalar(select(type_coerce(Account.name, LargeBinary())).where(Account.id == account_id))
    with pytest.raises(ValueError, match="k1"):
        decrypt_text(bytes(raw), "account.name")
    keys(f"k1:{KEY1},{SESSION_RING}", f"k1:idx-one,{SESSION_INDEX_RING}")  # put back: readable again
    assert decrypt_text(bytes(raw), "account.name") == "周敏"


def test_rotation_runs_while_the_application_writes(app, keys):
    """No downtime: a writer keeps changing names under the newest key while the rotation runs."""
    with app.app_context():
        keys(f"k1:{KEY1},{SESSION_RING}", f"k1:idx-one,{SESSION_INDEX_RING}")
        with transaction():
            accounts = [Account(phone=unique_phone(), level=2, name=f"甲{n}") for n in range(60)]
            db.session.add_all(accounts)
        ids = [account.id for account in accounts]
        keys(f"k2:{KEY2},k1:{KEY1},{SESSION_RING}", f"k2:idx-two,k1:idx-one,{SESSION_INDEX_RING}")
        db.session.remove()
    stop, written = threading.Event(), []

    def writer() -> None:
        with app.app_context():
            n = 0
            while not stop.is_set() and n < 400:
                account_id = ids[n % len(ids)]
                with transaction():
                    db.session.get(Account, account_id).name = f"乙{n}"
                written.append((account_id, f"乙{n}"))
                n += 1
            db.session.remove()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with app.app_context():
            rotate(batch_size=5)
            db.session.remove()
    finally:
        stop.set()
        thread.join()
    with app.app_context():
        rotate()  # whatever the writer left under an older key (none: it writes k2) is finished here
        last = dict(written)
        for account_id in ids:
            name = db.session.get(Account, account_id).name
            assert name == last.get(account_id, name)
        assert all(set(k for k, n in line["by_key"].items() if n) <= {"k2"} for line in status())
        db.session.remove()


def test_cli_status_and_rotate(app, keys):
    runner = app.test_cli_runner()
    with app.app_context():
        keys(f"k1:{KEY1},{SESSION_RING}", f"k1:idx-one,{SESSION_INDEX_RING}")
        with transaction():
            db.session.add(Account(phone=unique_phone(), level=2, name="吴刚"))
        db.session.remove()
    result = runner.invoke(args=["pii", "status"])
    assert result.exit_code == 0 and "accounts.name" in result.output and "k1=" in result.output
    keys(f"k2:{KEY2},k1:{KEY1},{SESSION_RING}", f"k2:idx-two,k1:idx-one,{SESSION_INDEX_RING}")
    result = runner.invoke(args=["pii", "rotate", "--batch-size", "50"])
    assert result.exit_code == 0 and "rewritten" in result.output, result.output
    status_after = runner.invoke(args=["pii", "status"]).output
    assert " k1=" not in status_after.replace("k1=0", "") and "k2=" in status_after


def test_malformed_key_rings_refuse_to_start():
    from mobile_api import create_app

    for bad in ("k1", "k1:not-base64!", f"k1:{base64.b64encode(b'short').decode()}", f"k1:{KEY1},k1:{KEY2}", f"bad id:{KEY1}"):
        with pytest.raises(ConfigError):
            create_app({"PII_ENCRYPTION_KEYS": bad})


# --- JWT ------------------------------------------------------------------------------------------


@pytest.fixture()
def jwt_keys(app):
    saved = app.config.get("JWT_SECRET_KEYS")
    yield lambda ring: app.config.__setitem__("JWT_SECRET_KEYS", ring)
    app.config["JWT_SECRET_KEYS"] = saved


def test_refresh_tokens_survive_a_jwt_key_rotation(app, client, celery_worker, jwt_keys):
    jwt_keys("j1:first-signing-secret-0123456789abcdef")
    tokens = sign_in(client)
    assert pyjwt.get_unverified_header(tokens["refresh_token"])["kid"] == "j1"
    jwt_keys("j2:second-signing-secret-0123456789abcdef,j1:first-signing-secret-0123456789abcdef")
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 200  # old access token
    refreshed = client.post("/api/v1/auth/tokens/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200, refreshed.json
    new = refreshed.json
    assert pyjwt.get_unverified_header(new["access_token"])["kid"] == "j2"
    jwt_keys("j2:second-signing-secret-0123456789abcdef")  # j1 removed
    old = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert old.status_code == 401 and old.json["code"] == "token_invalid"
    assert client.get("/api/v1/me", headers=bearer(new["access_token"])).status_code == 200
    assert client.post("/api/v1/auth/tokens/refresh", headers=bearer(new["refresh_token"])).status_code == 200


def test_token_without_key_id_is_checked_with_the_oldest_key(app, client, celery_worker, jwt_keys):
    tokens = sign_in(client)
    claims = pyjwt.decode(tokens["access_token"], options={"verify_signature": False})
    jwt_keys(f"j2:second-signing-secret-0123456789abcdef,j0:{app.config['JWT_SECRET_KEY']}")
    legacy = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")  # no kid header
    assert "kid" not in pyjwt.get_unverified_header(legacy)
    assert client.get("/api/v1/me", headers=bearer(legacy)).status_code == 200
    forged = pyjwt.encode(claims, "someone-elses-secret-0123456789abcdef", algorithm="HS256", headers={"kid": "j2"})
    assert client.get("/api/v1/me", headers=bearer(forged)).json["code"] == "token_invalid"
    unknown_kid = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256", headers={"kid": "nope"})
    assert client.get("/api/v1/me", headers=bearer(unknown_kid)).json["code"] == "token_invalid"
