"""Progress reporting and preemption handling for training scripts run by a rondo worker.

Dependency-free (Python 3.8+ standard library only): copy this file next to your script or add examples/ to
PYTHONPATH. Outside rondo (no RONDO_* variables) every function is a harmless no-op, so the same script runs by hand.

    import rondo_client as rondo
    stop = rondo.Preemption()            # SIGTERM at lease end sets stop.requested
    start = rondo.load_checkpoint(default=0)
    for step in range(start, total):
        if stop.requested: break         # checkpoint and exit: the job resumes later, maybe elsewhere
        train_one_step()
        rondo.save_checkpoint(step + 1)
        rondo.report(steps=step + 1, total=total)
"""

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

PROGRESS_PREFIX = "RONDO_PROGRESS"


def job_id():
    return os.environ.get("RONDO_JOB_ID")


def checkpoint_dir():
    """Directory that survives preemption and migration (shared by all workers); created by the worker."""
    return os.environ.get("RONDO_CHECKPOINT_DIR") or os.path.join(os.getcwd(), "rondo-checkpoint")


def lease_end():
    """Unix time (seconds) at which the worker stops this process unless the lease is extended; None outside rondo."""
    v = os.environ.get("RONDO_LEASE_END")
    return float(v) if v else None


def _post(path, body, timeout=5.0):
    server = os.environ.get("RONDO_SERVER")
    token = os.environ.get("RONDO_LEASE_TOKEN")
    if not server or not token:
        return None
    req = urllib.request.Request(
        server.rstrip("/") + path,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=timeout) as res:
        return json.loads(res.read().decode("utf-8"))


def report(steps=None, total=None, throughput=None, checkpoint=None):
    """Reports progress to the server (steps done so far, total steps, steps/s, checkpoint path).

    Uses the lease token the worker gives the job; if the server cannot be reached, prints the documented stdout
    line instead, which the worker forwards. Returns the server's reply (a dict with "stop": true when the job was
    cancelled) or None.
    """
    body = {}
    if steps is not None:
        body["steps"] = float(steps)
    if total is not None:
        body["total"] = float(total)
    if throughput is not None:
        body["throughput"] = float(throughput)
    if checkpoint is not None:
        body["checkpoint"] = str(checkpoint)
    if not body:
        return None
    try:
        reply = _post("/api/v1/progress", body)
        if reply is not None:
            return reply
    except (urllib.error.URLError, OSError, ValueError):
        pass
    parts = ["%s=%s" % (k, ("%g" % v) if isinstance(v, float) else v) for k, v in body.items()]
    print(PROGRESS_PREFIX + " " + " ".join(parts), flush=True)
    return None


class Preemption:
    """Turns SIGTERM (sent at lease end or on cancel) into a flag the training loop checks between steps."""

    def __init__(self):
        self.requested = False
        self.at = None
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.requested = True
        self.at = time.time()


def save_checkpoint(state, name="state.json"):
    """Writes `state` (JSON-serialisable) atomically: a crash leaves the old or the new checkpoint, never half."""
    d = checkpoint_dir()
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(default=None, name="state.json"):
    path = os.path.join(checkpoint_dir(), name)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default
    except ValueError:
        sys.stderr.write("rondo_client: unreadable checkpoint %s, starting over\n" % path)
        return default
