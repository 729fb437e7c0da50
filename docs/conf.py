"""Sphinx configuration: MyST pages, the API reference from ``__all__``, the examples gallery.

Build (no network needed)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# document this checkout, whatever torchinit is installed; then the local extension
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]

import torchinit  # noqa: E402

project = "torchinit"
author = "the torchinit authors"
copyright = "the torchinit authors"
release = version = torchinit.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_gallery.gen_gallery",
    "torchinit_api",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "gallery/*.md5", "gallery/*.codeobj.json"]
root_doc = "index"

# MyST: heading anchors, so that pages can link to `policies.md#precedence`
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# autodoc + napoleon: the docstrings use Google style (Args:, Returns:, Example:)
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# an override without a docstring of its own would repeat the base method's on every class
autodoc_inherit_docstrings = False
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# the gallery: every example in examples/ runs during the build; they print, they do not plot
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "gallery",
    "filename_pattern": r"\.py$",
    "image_scrapers": (),
    "reset_modules": (),
    "download_all_examples": False,
    "write_computation_times": False,
    "show_memory": False,
    "remove_config_comments": True,
    "within_subsection_order": "gallery_order.ExampleOrder",
    # show what the examples print, not the value of a last expression (``path.write_text``)
    "capture_repr": (),
}

html_theme = "furo"
html_title = f"torchinit {release}"
