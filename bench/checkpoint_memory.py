"""Peak memory of initializing a model from a checkpoint in a policy vs loading it whole first.

Not a test: run it and read the numbers::

    python bench/checkpoint_memory.py                          # ResNet-50
    python bench/checkpoint_memory.py --model wide_resnet101_2 # 127M parameters, 0.5 GB

The parent saves a torchvision model's state_dict (random weights, nothing downloaded) to a
``.safetensors`` and a ``.pt`` file in a temporary folder; each way of applying it to the same
model with a new 10-class ``fc`` runs in a fresh subprocess, which reads its resident memory
after its imports (RSS, ``/proc/self/statm``) and its peak at the end (``ru_maxrss``). The
policy is the one of ``docs/guide/checkpoints.md``: backbone from the file, Kaiming for the
new head, norms ones/zeros.

* ``policy, meta, safetensors``: the model built on the meta device, then
  ``init_model(model, policy, device="cpu")``: allocated once, every tensor read alone from the
  memory-mapped file;
* ``policy, meta, .pt (mmap)``: the same from the ``.pt`` file (``torch.load(mmap=True)``);
* ``policy, cpu, safetensors``: the model built on the CPU (its own init drawn first), then
  the policy (with its rollback copy of every tensor it writes, ``rollback=True``);
* ``policy, cpu, rollback=False``: the same without the rollback copy;
* ``whole state_dict first``: the model built on the CPU, ``torch.load`` of the ``.pt`` file
  (the whole file read into memory), ``load_state_dict(strict=False)``, then a policy for the
  head and norms: the usual two-step way.

Two peaks, as growth over the RSS after the imports: ``peak RSS`` (``ru_maxrss``) counts the
pages of a memory-mapped file that were read, which the kernel may drop at any time (page
cache); ``peak anon`` is the process's own memory (``RssAnon``, sampled every millisecond by a
thread: a close lower bound), what a checkpoint read whole costs. The model's parameter and
buffer bytes are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

WAYS = ("policy, meta, safetensors", "policy, meta, .pt (mmap)", "policy, cpu, safetensors",
        "policy, cpu, rollback=False", "whole state_dict first")  # fmt: skip
# the new head and the norms, after the checkpoint rule (last rule wins) in POLICY
HEAD_RULES = """\
  - match: {type: Linear, name: fc}
    weight: {kaiming_normal: {nonlinearity: relu}}
    bias: zeros
  - match: {type: BatchNorm2d}
    weight: ones
    bias: zeros
"""
HEAD_POLICY = "name: head\nrules:\n" + HEAD_RULES
POLICY = (
    "name: finetune\nrules:\n"
    '  - match: {param: "**"}\n'
    "    init: {checkpoint: {path: %s}}\n" + HEAD_RULES
)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _anon_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise ValueError("/proc/self/status has no RssAnon line")


class _AnonPeak(threading.Thread):
    """The highest RssAnon seen, sampled every millisecond until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _anon_bytes()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.001):
            self.peak = max(self.peak, _anon_bytes())


def child(way: str, model_name: str, folder: str) -> None:
    import torch
    import torchvision

    import torchinit

    build = getattr(torchvision.models, model_name)
    start_rss, start_anon = _rss_bytes(), _anon_bytes()
    sampler = _AnonPeak()
    sampler.start()
    if way.startswith("policy, meta"):
        with torch.device("meta"):
            model = build(num_classes=10)
        policy = "policy.pt.yaml" if ".pt" in way else "policy.yaml"
        torchinit.init_model(model, Path(folder) / policy, device="cpu")
    elif way == "policy, cpu, safetensors":
        model = build(num_classes=10)
        torchinit.init_model(model, Path(folder) / "policy.yaml")
    elif way == "policy, cpu, rollback=False":
        model = build(num_classes=10)
        torchinit.init_model(model, Path(folder) / "policy.yaml", rollback=False)
    elif way == "whole state_dict first":
        model = build(num_classes=10)
        state = torch.load(Path(folder) / "model.pt", weights_only=True)
        state = {key: value for key, value in state.items() if not key.startswith("fc.")}
        model.load_state_dict(state, strict=False)
        del state
        torchinit.init_model(model, Path(folder) / "head.yaml")
    else:
        raise ValueError(f"Way {way} not supported, please use one of {WAYS}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    sampler.done.set()
    sampler.join()
    tensors = list({id(t): t for t in [*model.parameters(), *model.buffers()]}.values())
    total = sum(t.numel() * t.element_size() for t in tensors)
    print(
        json.dumps({"rss": peak - start_rss, "anon": sampler.peak - start_anon, "tensors": total})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet50", help="a torchvision ResNet builder")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    import torch
    import torchvision
    from safetensors.torch import save_file

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    mib = 1024**2
    with tempfile.TemporaryDirectory() as folder:
        state = getattr(torchvision.models, args.model)().state_dict()
        save_file(dict(state), Path(folder) / "model.safetensors")
        torch.save(dict(state), Path(folder) / "model.pt")
        del state
        (Path(folder) / "policy.yaml").write_text(POLICY % "model.safetensors")
        (Path(folder) / "policy.pt.yaml").write_text(POLICY % "model.pt")
        (Path(folder) / "head.yaml").write_text(HEAD_POLICY)
        size = (Path(folder) / "model.safetensors").stat().st_size
        print(f"model: torchvision {args.model}, 10-class fc; checkpoint {size / mib:.0f} MiB")
        print(f"{'way':28} {'peak RSS':>10} {'peak anon':>10} {'model tensors':>14}")
        # PYTHONPATH: the children import this checkout's torchinit, as the parent does
        root = str(Path(__file__).resolve().parents[1])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
        }
        for way in WAYS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", way, args.model, folder],
                check=True, capture_output=True, text=True, env=env,
            ).stdout  # fmt: skip
            result = json.loads(out.strip().splitlines()[-1])
            print(f"{way:28} {result['rss'] / mib:6.0f} MiB {result['anon'] / mib:6.0f} MiB "
                  f"{result['tensors'] / mib:10.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
