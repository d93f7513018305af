"""What gunicorn and ``flask`` load: ``gunicorn wsgi:app``."""

from mobile_api import create_app

app = create_app()
