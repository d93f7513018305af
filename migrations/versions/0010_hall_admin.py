"""hall administration: capacity per window and slot, slot release and shares, special days, the call
display's event log, the green-channel flag of a case

Revision ID: 0010_hall_admin
Revises: 0005_appointments
Create Date: 2026-11-23 21:00:00

Existing data is carried over:
- each window's ``per_slot`` is the largest ``per_window`` of its hall's opening rules (then dropped);
- ``hall_closures`` rows become ``hall_special_days`` rows of kind ``closed``;
- the per-item slot rows become per-window slot rows: every active booking and every held place of an
  old row is given a place at an active window of that hall serving its item, the first with room.
  Where the old per-item capacity had promised more than the windows can take (the bug this revision
  fixes), the bookings are kept and that window's row is given the capacity they need; the number of
  such rows is printed. Cancelled/finished bookings, open waitlist offers and held-back places point
  at the new row that took over their place.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_hall_admin"
down_revision = "0005_appointments"
branch_labels = None
# The green-channel flag lives on the cases table.
depends_on = "0004_cases"

# (child table, column, old FK name, new FK name)
SLOT_REFERENCES = (
    ("appointments", "slot_id", "fk_appointments_slot_id_appointment_slots", "fk_appointments_slot_id_appointment_window_slots"),
    (
        "appointment_waitlist",
        "offered_slot_id",
        "fk_appointment_waitlist_offered_slot_id_appointment_slots",
        "fk_appointment_waitlist_offered_slot_id_window_slots",  # PostgreSQL: 63 characters at most
    ),
    (
        "appointment_place_releases",
        "slot_id",
        "fk_appointment_place_releases_slot_id_appointment_slots",
        "fk_appointment_place_releases_slot_id_appointment_window_slots",
    ),
)


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Batch mode recreates tables other tables refer to (halls, hall_windows, appointments): with
        # foreign keys enforced, dropping the old copy would fail. Outside a transaction the first
        # pragma turns enforcement off; inside one (an earlier migration of this run wrote data) it is
        # a no-op, and the second defers the checks to the commit instead. Either way every reference
        # is checked at the end (`PRAGMA foreign_key_check`).
        op.execute("PRAGMA foreign_keys = OFF")
        op.execute("PRAGMA defer_foreign_keys = ON")
    _halls_and_windows()
    _special_days()
    _window_slots(sqlite)
    op.create_table(
        "queue_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ticket_no", sa.String(length=8), nullable=True),
        sa.Column("window_name", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"], name=op.f("fk_queue_events_hall_id_halls"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_events")),
    )
    with op.batch_alter_table("queue_events", schema=None) as batch_op:
        batch_op.create_index("ix_queue_events_hall_id", ["hall_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_queue_events_created_at"), ["created_at"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("green_channel", sa.Boolean(), nullable=False, server_default=sa.false()))
    if sqlite:
        broken = op.get_bind().execute(sa.text("PRAGMA foreign_key_check")).all()
        if broken:
            raise RuntimeError(f"0010_hall_admin left broken references: {broken[:10]}")


def _halls_and_windows():
    with op.batch_alter_table("halls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("release_days_ahead", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("release_time", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("walk_in_percent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("elderly_percent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("green_channel_percent", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("hall_windows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("per_slot", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_hall_windows_staff_id_staff_users"), "staff_users", ["staff_id"], ["id"], ondelete="SET NULL")
        batch_op.create_check_constraint("per_slot_not_negative", "per_slot >= 0")
    # Capacity moves from the opening rules (per weekday) to the windows: the hall's largest value.
    op.execute(
        "UPDATE hall_windows SET per_slot = COALESCE("
        "(SELECT MAX(per_window) FROM hall_opening_rules WHERE hall_opening_rules.hall_id = hall_windows.hall_id), 1)"
    )
    with op.batch_alter_table("hall_opening_rules", schema=None) as batch_op:
        batch_op.drop_column("per_window")


def _special_days():
    op.create_table(
        "hall_special_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("opens", sa.Time(), nullable=True),
        sa.Column("closes", sa.Time(), nullable=True),
        sa.Column("break_start", sa.Time(), nullable=True),
        sa.Column("break_end", sa.Time(), nullable=True),
        sa.Column("slot_minutes", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"], name=op.f("fk_hall_special_days_hall_id_halls"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hall_special_days")),
        sa.UniqueConstraint("hall_id", "day", name="uq_hall_special_days_hall_day"),
    )
    with op.batch_alter_table("hall_special_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hall_special_days_hall_id"), ["hall_id"], unique=False)
    op.execute(
        "INSERT INTO hall_special_days (hall_id, day, kind, reason, created_at) "
        "SELECT hall_id, day, 'closed', reason, CURRENT_TIMESTAMP FROM hall_closures"
    )
    with op.batch_alter_table("hall_closures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hall_closures_hall_id"))
    op.drop_table("hall_closures")


def _window_slots(sqlite):
    op.create_table(
        "appointment_window_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("reserve_walk_in", sa.Integer(), nullable=False),
        sa.Column("reserve_elderly", sa.Integer(), nullable=False),
        sa.Column("reserve_green", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "booked >= 0 AND held >= 0 AND reserve_walk_in >= 0 AND reserve_elderly >= 0 AND reserve_green >= 0"
            " AND booked + held + reserve_walk_in + reserve_elderly + reserve_green <= capacity",
            name=op.f("ck_appointment_window_slots_within_capacity"),
        ),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"], name=op.f("fk_appointment_window_slots_hall_id_halls"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["window_id"], ["hall_windows.id"], name=op.f("fk_appointment_window_slots_window_id_hall_windows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_window_slots")),
        sa.UniqueConstraint("window_id", "start", name="uq_appointment_window_slots_window_start"),
    )
    with op.batch_alter_table("appointment_window_slots", schema=None) as batch_op:
        batch_op.create_index("ix_appointment_window_slots_hall_day", ["hall_id", "day"], unique=False)

    if sqlite:
        # Batch mode recreates `appointments`; its partial unique index is put back by hand so its
        # WHERE clause cannot be lost in reflection.
        with op.batch_alter_table("appointments", schema=None) as batch_op:
            batch_op.drop_index("uq_appointments_active_item", sqlite_where=sa.text("status = 'booked'"))
    for table, _column, old_name, _new_name in SLOT_REFERENCES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(old_name, type_="foreignkey")
    _move_places(op.get_bind())
    for table, column, _old_name, new_name in SLOT_REFERENCES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(new_name, "appointment_window_slots", [column], ["id"], ondelete="CASCADE" if table == "appointment_place_releases" else None)
    if sqlite:
        with op.batch_alter_table("appointments", schema=None) as batch_op:
            batch_op.create_index(
                "uq_appointments_active_item",
                ["account_id", "item_code"],
                unique=True,
                postgresql_where=sa.text("status = 'booked'"),
                sqlite_where=sa.text("status = 'booked'"),
            )
    op.drop_table("appointment_slots")


class _Placer:
    """Hands out places of per-window rows; rows are written at the end."""

    def __init__(self, connection):
        self.connection = connection
        self.windows_by_hall = {}
        for row in connection.execute(sa.text("SELECT id, hall_id, item_codes, active, per_slot FROM hall_windows ORDER BY id")).mappings():
            codes = row["item_codes"]
            if isinstance(codes, str):
                import json

                codes = json.loads(codes)
            self.windows_by_hall.setdefault(row["hall_id"], []).append({**row, "item_codes": codes or []})
        self.rows = {}  # (window_id, start) -> dict
        self.over_capacity = set()

    def candidates(self, hall_id, item_code):
        windows = self.windows_by_hall.get(hall_id, [])
        serving = [w for w in windows if w["active"] and item_code in w["item_codes"]]
        return serving or [w for w in windows if item_code in w["item_codes"]] or windows

    def row(self, window, old):
        key = (window["id"], old["start"])
        if key not in self.rows:
            self.rows[key] = {
                "hall_id": old["hall_id"],
                "window_id": window["id"],
                "day": old["day"],
                "start": old["start"],
                "end": old["end"],
                "capacity": window["per_slot"],
                "booked": 0,
                "held": 0,
            }
        return key

    def place(self, candidates, old, counter):
        """The row (key) of the first candidate window with room; the first candidate when none has."""
        for window in candidates:
            key = self.row(window, old)
            row = self.rows[key]
            if row["booked"] + row["held"] < row["capacity"]:
                row[counter] += 1
                return key
        key = self.row(candidates[0], old)
        row = self.rows[key]
        row[counter] += 1
        row["capacity"] = row["booked"] + row["held"]
        self.over_capacity.add(key)
        return key


def _move_places(connection):
    placer = _Placer(connection)
    old_slots = connection.execute(
        sa.text('SELECT id, hall_id, item_code, day, start, "end", capacity, booked, held FROM appointment_slots ORDER BY id')
    ).mappings().all()
    # Every reference is read before anything is written: old and new ids share one number space.
    bookings = connection.execute(sa.text("SELECT id, slot_id, status FROM appointments ORDER BY created_at, id")).mappings().all()
    entries = connection.execute(
        sa.text("SELECT id, offered_slot_id, status FROM appointment_waitlist WHERE offered_slot_id IS NOT NULL ORDER BY created_at, id")
    ).mappings().all()
    releases = connection.execute(sa.text("SELECT id, slot_id, done FROM appointment_place_releases ORDER BY id")).mappings().all()
    active_by_slot = {}
    for booking in bookings:
        if booking["status"] == "booked":
            active_by_slot.setdefault(booking["slot_id"], []).append(booking["id"])
    homes, holds_by_slot, booking_rows = {}, {}, {}
    for old in old_slots:
        candidates = placer.candidates(old["hall_id"], old["item_code"]) or [_stand_in_window(connection, placer, old)]
        homes[old["id"]] = placer.row(candidates[0], old)
        for booking_id in active_by_slot.get(old["id"], []):
            booking_rows[booking_id] = placer.place(candidates, old, "booked")
        holds_by_slot[old["id"]] = [placer.place(candidates, old, "held") for _ in range(old["held"])]
    ids = {}
    for key, row in placer.rows.items():
        ids[key] = connection.execute(
            sa.text(
                'INSERT INTO appointment_window_slots (hall_id, window_id, day, start, "end", capacity, booked, held, '
                "reserve_walk_in, reserve_elderly, reserve_green) "
                "VALUES (:hall_id, :window_id, :day, :start, :end, :capacity, :booked, :held, 0, 0, 0) RETURNING id"
            ),
            row,
        ).scalar_one()
    for booking in bookings:
        key = booking_rows.get(booking["id"]) or homes[booking["slot_id"]]
        connection.execute(sa.text("UPDATE appointments SET slot_id = :new WHERE id = :id"), {"new": ids[key], "id": booking["id"]})
    # Open offers and held-back places take over the held places of their old row, in order.
    unclaimed = {slot_id: list(keys) for slot_id, keys in holds_by_slot.items()}
    for entry in entries:
        claimed = unclaimed[entry["offered_slot_id"]]
        key = claimed.pop(0) if entry["status"] == "offered" and claimed else homes[entry["offered_slot_id"]]
        connection.execute(sa.text("UPDATE appointment_waitlist SET offered_slot_id = :new WHERE id = :id"), {"new": ids[key], "id": entry["id"]})
    for release in releases:
        claimed = unclaimed[release["slot_id"]]
        key = claimed.pop(0) if not release["done"] and claimed else homes[release["slot_id"]]
        connection.execute(sa.text("UPDATE appointment_place_releases SET slot_id = :new WHERE id = :id"), {"new": ids[key], "id": release["id"]})
    if placer.over_capacity:
        print(f"0010_hall_admin: {len(placer.over_capacity)} window slot(s) keep more bookings than the window takes (over-promised before)")


def _stand_in_window(connection, placer, old):
    """A hall with no window at all had slots: an inactive stand-in window keeps their bookings."""
    codes = "CAST(:codes AS JSON)" if connection.dialect.name == "postgresql" else ":codes"
    window_id = connection.execute(
        sa.text(f"INSERT INTO hall_windows (hall_id, name, item_codes, active, per_slot) VALUES (:hall, :name, {codes}, :active, 0) RETURNING id"),
        {"hall": old["hall_id"], "name": f"迁移{old['id']}", "codes": "[]", "active": False},
    ).scalar_one()
    window = {"id": window_id, "hall_id": old["hall_id"], "item_codes": [], "active": False, "per_slot": 0}
    placer.windows_by_hall.setdefault(old["hall_id"], []).append(window)
    return window


def downgrade():
    raise NotImplementedError("0010_hall_admin moves capacity from items to windows; there is no way back to per-item slots")
