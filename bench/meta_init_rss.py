"""Peak memory of ``init_model(meta_model, policy, device="cpu", seed=N)`` on a 1B-class model.

Not a test: run it and read the numbers::

    python bench/meta_init_rss.py                 # bf16 and fp32
    python bench/meta_init_rss.py --dtype bfloat16

Each measurement runs in a fresh subprocess: it builds a nanoGPT-layout GPT (22 layers, width
2048, 32,000 tokens, 2,048 positions: 1.18B parameters) on the meta device, notes its resident
memory (RSS), materializes and initializes it on the CPU with the ``nanogpt`` preset and keyed
seeding, and reads the peak RSS (``ru_maxrss``). The target: the growth of the peak over the
starting RSS is at most the parameter and buffer bytes plus the largest single tensor.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

CONFIG = {"n_layer": 22, "d_model": 2048, "vocab": 32000, "n_ctx": 2048}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(dtype_name: str) -> None:
    import torch

    import torchinit

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import GPT

    dtype = getattr(torch, dtype_name)
    with torch.device("meta"):
        model = GPT(**CONFIG).to(dtype)
    tensors = list({id(t): t for t in [*model.parameters(), *model.buffers()]}.values())
    total = sum(t.numel() * t.element_size() for t in tensors)
    largest = max(t.numel() * t.element_size() for t in tensors)
    start_rss = _rss_bytes()
    start = time.perf_counter()
    torchinit.init_model(model, "nanogpt", device="cpu", seed=0)  # n_layer: model.config
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    parameters = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "dtype": dtype_name, "parameters": parameters, "tensor_bytes": total,
        "largest": largest, "start_rss": start_rss, "peak_rss": peak, "seconds": seconds,
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], action="append")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    import torch

    print(f"torch {torch.__version__}, os.cpu_count() = {os.cpu_count()}, "
          f"torch.get_num_threads() = {torch.get_num_threads()}")  # fmt: skip
    print(f"model: nanoGPT layout {CONFIG}")
    gib = 1024**3
    for dtype in args.dtype or ["bfloat16", "float32"]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", dtype],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        result = json.loads(out.strip().splitlines()[-1])
        growth = result["peak_rss"] - result["start_rss"]
        bound = result["tensor_bytes"] + result["largest"]
        print(f"{dtype}: {result['parameters'] / 1e9:.2f}B parameters")
        print(f"  parameter+buffer bytes        {result['tensor_bytes'] / gib:7.3f} GiB")
        print(f"  largest single tensor         {result['largest'] / gib:7.3f} GiB")
        print(f"  RSS before materializing      {result['start_rss'] / gib:7.3f} GiB")
        print(f"  peak RSS                      {result['peak_rss'] / gib:7.3f} GiB")
        print(f"  growth / tensor bytes         {growth / result['tensor_bytes']:7.3f}")
        print(f"  bound (tensors + largest)     {bound / gib:7.3f} GiB: "
              f"{'met' if growth <= bound else 'NOT met'}")  # fmt: skip
        print(f"  init_model time               {result['seconds']:7.2f} s")


if __name__ == "__main__":
    main()
