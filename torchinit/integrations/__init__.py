"""Integrations with the libraries models come from (``torchinit.integrations.transformers``).

Each integration is its own module and imports its library only when one of its functions is
called: importing this package imports no optional dependency.
"""

__all__: list[str] = []
