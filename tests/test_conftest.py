"""tests/conftest.py: the fixed per-test seed of the global generators."""

from __future__ import annotations

import random
import zlib

import pytest
import torch


@pytest.mark.parametrize("case", ["a", "b"])
def test_each_test_starts_from_the_seed_of_its_file_and_name(case: str) -> None:
    seed = zlib.crc32(
        f"test_conftest.py::test_each_test_starts_from_the_seed_of_its_file_and_name[{case}]".encode()
    )
    assert torch.initial_seed() == seed
    expected = torch.Generator().manual_seed(seed)
    assert torch.equal(torch.rand(4), torch.rand(4, generator=expected))
    assert random.random() == random.Random(seed).random()
