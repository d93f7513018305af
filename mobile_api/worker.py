"""Entry point for Celery processes: ``celery -A mobile_api.worker worker`` / ``... beat``."""

from mobile_api import create_app
from mobile_api.celery_app import celery

flask_app = create_app()

__all__ = ["celery", "flask_app"]
