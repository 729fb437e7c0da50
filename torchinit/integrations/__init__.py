"""Integrations with the libraries and trainers that decide when a model's parameters exist.

Each submodule is imported on its own (``import torchinit.integrations.torchtitan``); none is
imported by ``import torchinit``.
"""
