"""A real (small) PyTorch training job for rondo: an MLP on synthetic regression data, on the GPUs the worker
leased (CUDA_VISIBLE_DEVICES), checkpointing model, optimiser and step to RONDO_CHECKPOINT_DIR on SIGTERM and
every --checkpoint-every steps, resuming from there on the next attempt.

    rondo submit --steps 3000 -- python3 examples/train_torch.py --steps 3000
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rondo_client as rondo  # noqa: E402

import torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--checkpoint-every", type=int, default=200)
    ap.add_argument("--report-every", type=int, default=50)
    args = ap.parse_args()

    stop = rondo.Preemption()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(256, args.width), torch.nn.ReLU(), torch.nn.Linear(args.width, args.width), torch.nn.ReLU(), torch.nn.Linear(args.width, 1)
    ).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    target = torch.randn(256, 1, device=device)

    ckpt_path = os.path.join(rondo.checkpoint_dir(), "model.pt")
    step = 0
    if os.path.exists(ckpt_path):
        state = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = state["step"]

    def save():
        os.makedirs(rondo.checkpoint_dir(), exist_ok=True)
        tmp = ckpt_path + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, tmp)
        os.replace(tmp, ckpt_path)  # atomic: a kill leaves the old or the new checkpoint

    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    print("device %s (CUDA_VISIBLE_DEVICES=%s), resuming at step %d of %d" % (name, os.environ.get("CUDA_VISIBLE_DEVICES"), step, args.steps), flush=True)
    t0, first = time.time(), step
    loss = None
    while step < args.steps and not stop.requested:
        x = torch.randn(args.batch, 256, device=device)
        y = x @ target
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % args.checkpoint_every == 0:
            save()
        if step % args.report_every == 0 or step == args.steps:
            if device.type == "cuda":
                torch.cuda.synchronize()
            rondo.report(steps=step, total=args.steps, throughput=(step - first) / max(1e-6, time.time() - t0), checkpoint=ckpt_path)
    save()
    rondo.report(steps=step, total=args.steps, checkpoint=ckpt_path)
    print("%s at step %d, loss %.4f" % ("done" if step >= args.steps else "preempted", step, loss.item() if loss is not None else float("nan")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
