"""CLI commands: staff users and the identity registry import."""

from __future__ import annotations

from sqlalchemy import select

from auth.models import Resident, StaffUser
from mobile_api.extensions import db
from mobile_api.pii import blind_index
from tests.support import random_id_number


def test_create_staff_user(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["staff", "create", "clerk2", "--role", "window_clerk", "--department", "GA", "--hall", "1", "--password", "S3cure-pass"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        staff = db.session.scalar(select(StaffUser).where(StaffUser.username == "clerk2"))
        assert staff.roles == ["window_clerk"] and staff.department_codes == ["GA"] and staff.hall_ids == [1]
        assert "S3cure-pass" not in staff.password_hash
    result = runner.invoke(args=["staff", "create", "x", "--role", "wizard", "--password", "p"])
    assert result.exit_code == 1 and "unknown roles" in result.output  # a ClickException, not a crash


def test_import_residents_csv_reports_bad_rows(app, tmp_path):
    good = random_id_number()
    path = tmp_path / "residents.csv"
    path.write_text(f"姓名,身份证号\n赵敏,{good}\n钱多多,110105194912310021\n孙悟空\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["identity", "import-residents", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 residents imported, 2 rows refused" in result.output
    with app.app_context():
        resident = db.session.scalar(select(Resident).where(Resident.id_number_index == blind_index(good, "id_number")))
        assert resident.name == "赵敏"
