"""Progress over the tensors ``init_model(..., progress=True)`` sets.

Shown by the first display available: a tqdm bar (``pip install torchinit[progress]``), else a
rich bar, else a handful of ``logging`` INFO lines on the ``torchinit.progress`` logger. The
engine only asks for one when ``progress=True``: progress off costs nothing.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["Progress", "start"]

logger = logging.getLogger("torchinit.progress")

_Item = TypeVar("_Item")

#: the logging display writes a line each time this share of the work more is done
_LOG_STEP = 0.1


class Progress:
    """A count of tensors done out of ``total``, shown as it goes: the logging display, and
    the base of the others (they override ``_show`` and ``close``)."""

    def __init__(self, total: int, description: str) -> None:
        self.total = total
        self.description = description
        self.done = 0
        self._logged = 0  # steps of _LOG_STEP logged so far

    def update(self, count: int = 1) -> None:
        """Count ``count`` more tensors done."""
        self.done += count
        self._show(count)

    def _show(self, count: int) -> None:
        steps = int(self.done / max(self.total, 1) / _LOG_STEP + 1e-9)
        if steps > self._logged:
            self._logged = steps
            share = 100 * self.done // max(self.total, 1)
            logger.info("%s: %d%% (%d/%d tensors)", self.description, share, self.done, self.total)

    def iterate(self, items: Iterable[_Item]) -> Iterator[_Item]:
        """Yield ``items``, counting each as done once the caller is through with it."""
        for item in items:
            yield item
            self.update()

    def close(self) -> None:
        """End the display."""


class _TqdmProgress(Progress):
    def __init__(self, total: int, description: str, tqdm: Any) -> None:
        super().__init__(total, description)
        self._bar = tqdm(total=total, desc=description, unit="tensor")

    def _show(self, count: int) -> None:
        self._bar.update(count)

    def close(self) -> None:
        self._bar.close()


class _RichProgress(Progress):
    def __init__(self, total: int, description: str, progress: Any, console: Any) -> None:
        super().__init__(total, description)
        # on stderr, as tqdm's: stdout may be the program's output (the CLI's report)
        self._display = progress.Progress(console=console.Console(stderr=True))
        self._task = self._display.add_task(description, total=total)
        self._display.start()

    def _show(self, count: int) -> None:
        self._display.advance(self._task, count)

    def close(self) -> None:
        self._display.stop()


def start(total: int, description: str) -> Progress:
    """A progress display over ``total`` tensors: tqdm, else rich, else logging lines."""
    try:
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        pass
    else:
        return _TqdmProgress(total, description, tqdm)
    try:
        progress = importlib.import_module("rich.progress")
        console = importlib.import_module("rich.console")
    except ImportError:
        return Progress(total, description)
    return _RichProgress(total, description, progress, console)
