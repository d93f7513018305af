"""Face fixtures: a consenting level-2 citizen (worker running) and two fresh frames of one person."""

from __future__ import annotations

import pytest

from tests.auth.face import images
from tests.auth.face.support import new_citizen


@pytest.fixture()
def citizen(app, client, celery_worker):
    return new_citizen(app, client)


@pytest.fixture()
def frames():
    """Two fresh, different pictures of person A (never sent before in this session)."""
    return [images.variant("obama_1.jpg"), images.variant("obama_2.jpg")]
