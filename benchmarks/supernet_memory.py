"""Peak memory and time of one supernet training step, darts vs pc-darts, at DARTS's search size.

Each configuration runs in a fresh process: 8 cells, 16 channels, batch 64 of random 3x32x32 images, one forward and
backward pass of the weights. On CPU the figure is the growth of the peak resident set during the step (ru_maxrss);
on a GPU, ``torch.cuda.max_memory_allocated`` and images per second (AMP bfloat16, channels_last).
Usage: python benchmarks/supernet_memory.py [--batch 64] [--steps 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CONFIGS = {"darts": {}, "pc-darts": {"partial_channels": 4, "edge_normalization": True}}

CHILD = """
import json, resource, sys, time, torch
import search_spaces
from torch.nn import functional as F
relaxation, batch, steps = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.manual_seed(0)
net = search_spaces.get("darts").supernet(16, 8, **relaxation).to(device)
x, y = torch.randn(batch, 3, 32, 32, device=device), torch.randint(0, 10, (batch,), device=device)
if device.type == "cuda":
    net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    torch.cuda.reset_peak_memory_stats()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
seconds = []
for _ in range(steps):
    started = time.perf_counter()
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        loss = F.cross_entropy(net(x).float(), y)
    loss.backward()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds.append(time.perf_counter() - started)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else (after - before) * 1024
print(json.dumps({"device": device.type, "peak_bytes": peak, "seconds": min(seconds),
                  "images_per_s": batch / min(seconds)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1)
    args = parser.parse_args()
    results = {}
    for name, relaxation in CONFIGS.items():
        done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(relaxation), str(args.batch), str(args.steps)],
                              capture_output=True, text=True, check=True)
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[name]
        print(f"{name:9} {r['device']}  peak {r['peak_bytes'] / 2**20:8.0f} MiB  step {r['seconds']:.2f} s  "
              f"{r['images_per_s']:.0f} images/s", flush=True)
    ratio = results["pc-darts"]["peak_bytes"] / results["darts"]["peak_bytes"]
    print(f"pc-darts / darts peak memory: {ratio:.2f}")


if __name__ == "__main__":
    main()
