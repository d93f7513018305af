"""gunicorn settings `scripts/run.sh` passes with ``-c``: Prometheus multiprocess bookkeeping.

With ``PROMETHEUS_MULTIPROC_DIR`` set, every process writes its metrics to files there and ``/metrics``
adds them up (mobile_api/metrics.py). A worker that exits is marked dead so its live gauges go away; its
counters stay counted, as Prometheus expects of a counter.
"""

import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
