"""A stand-in training job: counts steps, sleeps a little per step, checkpoints its counter after every step and
stops cleanly on SIGTERM. Used by rondo's end-to-end tests and as a template for real scripts.

    python3 examples/train_counter.py --steps 200 --step-seconds 0.01
    python3 examples/train_counter.py --steps 200 --step-seconds-by-type v100=0.01,k80=0.04

With --step-seconds-by-type the step time depends on the GPU type of the lease (RONDO_GPU_TYPE), as a model that
runs at different speeds on different GPUs; types not listed use --step-seconds.

Each completed step is also appended to <checkpoint dir>/steps.log ("step pid"), so a test can check that no step
ran twice and none was lost across preemptions, migrations and crashes.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rondo_client as rondo  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--step-seconds", type=float, default=0.02)
    ap.add_argument("--step-seconds-by-type", default="", help="TYPE=SECONDS,... by RONDO_GPU_TYPE")
    ap.add_argument("--report-every", type=int, default=5)
    ap.add_argument("--fail-at", type=int, default=0, help="exit 3 at this step (to test failures)")
    args = ap.parse_args()
    by_type = dict((k.strip().lower(), float(v)) for k, v in (kv.split("=", 1) for kv in args.step_seconds_by_type.split(",") if kv))
    step_seconds = by_type.get(os.environ.get("RONDO_GPU_TYPE", "").lower(), args.step_seconds)

    stop = rondo.Preemption()
    state = rondo.load_checkpoint(default={"step": 0})
    step = int(state["step"])
    first = step
    log_path = os.path.join(rondo.checkpoint_dir(), "steps.log")
    print("resuming at step %d of %d (job %s)" % (step, args.steps, rondo.job_id()), flush=True)
    t0 = time.time()
    while step < args.steps:
        if stop.requested:
            break
        time.sleep(step_seconds)  # the "training"
        step += 1
        if args.fail_at and step == args.fail_at:
            print("failing on purpose at step %d" % step, flush=True)
            sys.exit(3)
        rondo.save_checkpoint({"step": step})
        with open(log_path, "a") as f:
            f.write("%d %d\n" % (step, os.getpid()))
        if step % args.report_every == 0 or step == args.steps:
            rate = (step - first) / max(1e-6, time.time() - t0)
            rondo.report(steps=step, total=args.steps, throughput=rate)
    if step >= args.steps:
        print("done: %d steps" % step, flush=True)
    else:
        rondo.report(steps=step, total=args.steps)
        print("preempted at step %d; checkpoint saved" % step, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
