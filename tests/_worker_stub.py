"""A stand-in for crmlib.batch.run_task in worker processes (stdlib only, so spawned workers
start fast): clients named 'killer...' kill their own worker process."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def die_or_finish(task) -> dict:
    """task: a crmlib.batch.BatchTask."""
    Path(task.log).write_text("started\n")
    if task.client.startswith("killer"):
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.3)
    return {"config": task.config, "client": task.client, "status": "ok", "seconds": 0.3,
            "report": None, "error": None, "log": task.log}


def duckdb_threads_seen(task) -> dict:
    """The worker's CRM_DUCKDB_THREADS as the outcome's error field (crmlib.cores)."""
    return {"config": task.config, "client": task.client, "status": "ok", "seconds": 0.0,
            "report": None, "error": os.environ.get("CRM_DUCKDB_THREADS"), "log": task.log}


def took_last_client(task) -> dict:
    """Whether the worker counted this client as the last one taken (crmlib.batch), as the outcome's error field."""
    from crmlib.batch import _took_last_client

    last = _took_last_client()
    time.sleep(0.2)  # the other worker takes the next client meanwhile
    return {"config": task.config, "client": task.client, "status": "ok", "seconds": 0.2,
            "report": None, "error": str(last), "log": task.log}
