"""The ``torchinit`` command: list strategies and presets; plan, validate, apply and check
policies; diagnose an initialized model.

::

    torchinit list
    torchinit show resnet
    torchinit show vgg --yaml > my_policy.yaml
    torchinit plan torchvision.models:resnet50 resnet --option zero_init_residual=true
    torchinit validate policy.yaml --model torchvision.models:resnet50
    torchinit apply torchvision.models:resnet50 policy.yaml --manual-seed 0 --out weights.pt
    torchinit diagnose torchvision.models:resnet50 resnet --input-shape 8,3,224,224

``MODEL`` is ``package.module:callable`` or ``path/to/file.py:callable``, called with no
arguments or with ``--model-kwargs`` (a JSON object) and ``--config`` (a JSON file).
``POLICY`` is a preset name or a YAML file. Errors go to stderr as ``torchinit: error:
<message>`` with exit code 1 (usage errors: argparse's exit code 2).
``python -m torchinit`` is the same command.
"""

from torchinit.cli.arguments import load_model, parse_option
from torchinit.cli.parser import build_parser, main

__all__ = ["build_parser", "load_model", "main", "parse_option"]
