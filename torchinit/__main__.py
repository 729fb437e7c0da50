"""``python -m torchinit``: the ``torchinit`` command (see :mod:`torchinit.cli`)."""

from torchinit.cli import main

raise SystemExit(main())
