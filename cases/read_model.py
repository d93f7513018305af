"""The citizen's case view as a read model: built once per (case version, city day), then served as is.

Reading a case is by far the most frequent request (the app polls it, the hotline asks for it). The
view depends on the case (its ``view_version`` is bumped in the same transaction as every timeline
event or upload) and on the date (working days left, predicted completion). So the serialised view is
stored on the case row under the key ``format:version:day``; a read is one indexed query when the key
matches, and a rebuild otherwise. The stored view is only written if the version has not moved in
the meantime (conditional UPDATE), so a concurrent change can never be hidden behind an old view.
Works the same on every process and database; nothing is cached in process memory.
"""

from __future__ import annotations

import json

from sqlalchemy import select, update

from cases.clock import today
from cases.events import view_fragments
from cases.models import Case
from cases.presentation import case_detail
from cases.schemas import CaseDetail
from cases.service import case_for_citizen
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.transactions import transaction

VIEW_FORMAT = "v1"
_schema = CaseDetail()


def citizen_case_json(account_id: str, case_no: str) -> str:
    row = db.session.execute(
        select(Case.id, Case.view_version, Case.view_cache_key, Case.view_cache).where(
            Case.case_no == case_no.strip().upper(), Case.account_id == account_id
        )
    ).first()
    if row is None:
        raise Problem(404, "case_not_found", "未找到该办件", case_no=case_no)
    key = f"{VIEW_FORMAT}:{row.view_version}:{today().isoformat()}"
    if row.view_cache_key == key and row.view_cache:
        return row.view_cache
    with transaction():
        case = case_for_citizen(account_id, case_no)
        body = json.dumps(_schema.dump(case_detail(case) | view_fragments(case)), ensure_ascii=False)
        db.session.execute(
            update(Case)
            .where(Case.id == row.id, Case.view_version == row.view_version)
            .values(view_cache=body, view_cache_key=key, updated_at=Case.updated_at)
            .execution_options(synchronize_session=False)
        )
    return body
