"""Integrations with the libraries models come from and the trainers that decide when a
model's parameters exist: ``torchinit.integrations.transformers``, ``.timm``, ``.torchtitan``.

Each integration is its own module, imported on its own, and imports its library only when one
of its functions is called: importing this package (or ``torchinit``) imports no optional
dependency.
"""

__all__: list[str] = []
