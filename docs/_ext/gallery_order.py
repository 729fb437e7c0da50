"""The order of the examples in the gallery: first steps first, then the rest by file name."""

FIRST = ("quickstart.py", "custom_policy.py", "yaml_policy.py", "apply_weights_init.py")


class ExampleOrder:
    """A sphinx-gallery sort key (``within_subsection_order``) over example file names."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        rank = FIRST.index(filename) if filename in FIRST else len(FIRST)
        return rank, filename

    def __repr__(self) -> str:  # sphinx-gallery compares configurations by repr
        return f"<{type(self).__name__}>"
