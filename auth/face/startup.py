"""Start-up check for face_recognition, run by ``auth.face.init_app`` in every process (web and workers).

``face_recognition_models`` imports ``pkg_resources``; on setuptools >= 81 that module is gone and
``face_recognition`` then prints a hint and calls ``quit()`` — which would silently kill a worker.
We check for ``pkg_resources`` first and raise a clear error instead.
"""

from __future__ import annotations

import importlib.util

from flask import Flask


class FaceRecognitionUnavailable(RuntimeError):
    pass


def check_face_recognition_importable(app: Flask) -> None:
    """Raise :class:`FaceRecognitionUnavailable` with the fix, unless ``SKIP_FACE_CHECK`` is set."""
    if app.config.get("SKIP_FACE_CHECK"):
        return
    if importlib.util.find_spec("pkg_resources") is None:
        raise FaceRecognitionUnavailable(
            "pkg_resources is missing (setuptools>=81). face_recognition would call quit() on import. "
            "Install the pinned setuptools from requirements.txt (setuptools<81)."
        )
    for module in ("face_recognition_models", "dlib"):
        if importlib.util.find_spec(module) is None:
            raise FaceRecognitionUnavailable(f"{module} is not installed; run scripts/bootstrap.sh")
    if importlib.util.find_spec("face_recognition") is None:
        raise FaceRecognitionUnavailable("face_recognition is not installed; run `pip install --no-deps -r requirements-face.txt`")
