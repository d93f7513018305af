"""Celery queue names: the one set of constants (as GOV.UK Notify's ``QueueNames``).

- ``URGENT``  sign-in codes and anything a person is waiting for on a screen; its own workers so a
  backlog of reminders can never delay a sign-in;
- ``NOTIFY``  every other notification;
- ``FACE``    face verification (dlib, CPU-heavy; face workers can run on other machines);
- ``EXPRESS`` courier calls;
- ``DEFAULT`` everything else (sweeps, scans, reports).
"""

from __future__ import annotations


class QueueNames:
    URGENT = "urgent"
    NOTIFY = "notify"
    FACE = "face"
    EXPRESS = "express"
    DEFAULT = "default"

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return (cls.URGENT, cls.NOTIFY, cls.FACE, cls.EXPRESS, cls.DEFAULT)
