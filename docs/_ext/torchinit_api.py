"""Write the API reference from the package's ``__all__`` lists when a build starts.

Nothing in ``docs/`` names a module or an object by hand, so moving code between modules
(or splitting a module into a package) needs no edit here. Each build:

* walks ``torchinit`` with :func:`pkgutil.walk_packages`, skipping every module with a path
  part that starts with ``_``;
* gives every name of every public ``__all__`` one *home*: the shallowest public module whose
  ``__all__`` lists the same object under that name (the package itself only for names that no
  module lists, such as ``__version__``);
* writes one page per public module into ``docs/api/generated/``, documenting its homed names
  as ``torchinit.<name>`` when ``torchinit.__all__`` re-exports them (the name users import)
  and as ``torchinit.<module>.<name>`` otherwise, so that no object is described twice; a
  ``presets`` module's page also documents the preset factories it registers.

A ``missing-reference`` handler then points references to an object's defining module
(``torchinit.policy.Policy`` in a signature or a base-class list) at the name it is
documented under (``torchinit.Policy``), and builtins in signatures are left unlinked.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.pycode import ModuleAnalyzer

PACKAGE = "torchinit"
OUTPUT = Path("api") / "generated"
# id of each documented class and function -> the name it is documented under
_DOCUMENTED_AT: dict[int, str] = {}
# full name of each documented object -> its home module
_HOMES: dict[str, str] = {}


@dataclass(frozen=True)
class Entry:
    """One object to document: the name it is documented under, and what it is."""

    full_name: str
    obj: Any
    home: str  # the module whose page documents it, and whose source says what it is

    @property
    def foreign(self) -> bool:
        """A class or function of another library (torch), exported under a torchinit name."""
        if not (inspect.isclass(self.obj) or inspect.isroutine(self.obj)):
            return False
        module = getattr(self.obj, "__module__", None) or ""
        return module != PACKAGE and not module.startswith(f"{PACKAGE}.")

    @property
    def directive(self) -> str:
        if self.foreign:
            return "py:data"
        if inspect.isclass(self.obj) and issubclass(self.obj, BaseException):
            return "autoexception"
        if inspect.isclass(self.obj):
            return "autoclass"
        if inspect.isroutine(self.obj):
            return "autofunction"
        return "autodata"

    def rst(self) -> str:
        if self.foreign:
            # its own docstring is that library's to document (and to get RST right)
            origin = f"{self.obj.__module__}.{self.obj.__qualname__}"
            module, _, name = self.full_name.rpartition(".")
            lines = [f".. py:data:: {name}", f"   :module: {module}", ""]
            return "\n".join([*lines, f"   An alias of ``{origin}``.", ""])
        options = {
            "autoexception": ["   :show-inheritance:"],
            "autoclass": ["   :members:", "   :show-inheritance:"],
            "autofunction": [],
            "autodata": self.data_options(),
        }[self.directive]
        return "\n".join([f".. {self.directive}:: {self.full_name}", *options, ""])

    def data_options(self) -> list[str]:
        """For an object whose repr says nothing (``<... object>``): its annotated type."""
        if not repr(self.obj).startswith("<"):
            return []
        short_name = self.full_name.rpartition(".")[2]
        annotation = getattr(sys.modules[self.home], "__annotations__", {}).get(short_name)
        if annotation is None:
            return ["   :no-value:"]
        return [f"   :annotation: : {annotation}"]


def public_modules(package: ModuleType) -> list[ModuleType]:
    """The package and every module under it with no path part starting with ``_``."""
    names = [
        info.name
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    return [package, *(importlib.import_module(name) for name in sorted(names))]


def exported(module: ModuleType) -> Iterator[tuple[str, Any]]:
    for name in getattr(module, "__all__", ()):
        yield name, getattr(module, name)


def plan_pages(package: ModuleType) -> dict[str, list[Entry]]:
    """Module name -> the entries its page documents, in ``__all__`` order."""
    modules = public_modules(package)
    top_level = dict(exported(package))
    # shallowest first; the package itself last, as the home of what no module lists
    by_depth = sorted(modules[1:], key=lambda module: module.__name__.count("."))
    pages: dict[str, list[Entry]] = {module.__name__: [] for module in modules}
    seen: set[tuple[str, int]] = set()
    for module in [*by_depth, package]:
        for name, obj in exported(module):
            if (name, id(obj)) in seen:
                continue
            seen.add((name, id(obj)))
            if name in top_level and top_level[name] is obj:
                full_name = f"{package.__name__}.{name}"
            else:
                full_name = f"{module.__name__}.{name}"
            pages[module.__name__].append(Entry(full_name, obj, module.__name__))
    return pages


def preset_factories(module: ModuleType) -> list[Entry]:
    """The presets that ``module`` defines, as ``torchinit.presets.<family>.<function>``."""
    from torchinit.presets import PRESETS

    return [
        Entry(f"{factory.__module__}.{factory.__qualname__}", factory, module.__name__)
        for factory in dict.fromkeys(PRESETS.values())
        if factory.__module__ == module.__name__ and "<" not in factory.__qualname__
    ]


def heading(text: str, underline: str) -> str:
    return f"{text}\n{underline * len(text)}\n"


def render_entries(entries: list[Entry]) -> list[str]:
    """The entries as autodoc directives, grouped by kind under headings."""
    parts = []
    for kind, title in [
        ("autofunction", "Functions"),
        ("autoclass", "Classes"),
        ("autoexception", "Exceptions and warnings"),
        ("autodata", "Constants and types"),
        ("py:data", "Aliases"),
    ]:
        of_kind = [entry for entry in entries if entry.directive == kind]
        if of_kind:
            parts.append(heading(title, "-"))
            parts.extend(entry.rst() for entry in of_kind)
    return parts


def render_page(module: ModuleType, entries: list[Entry], elsewhere: list[str]) -> str:
    """One module's page, reStructuredText."""
    name = module.__name__
    parts = [
        f".. This file is generated by docs/_ext/{Path(__file__).name}: do not edit.\n",
        heading(name, "="),
        f".. automodule:: {name}\n",
    ]
    if elsewhere:
        also = ", ".join(f":obj:`{full_name}`" for full_name in elsewhere)
        parts.append(f"Also importable from here: {also}.\n")
    parts.extend(render_entries(entries))
    if name.startswith(f"{PACKAGE}.presets."):
        factories = preset_factories(module)
        if factories:
            parts.append(heading("Presets", "-"))
            parts.append(
                "Each function is registered under its name; ``init_model(model, name, "
                "**options)`` calls it with the options.\n"
            )
            parts.extend(entry.rst() for entry in factories)
    return "\n".join(parts)


def render_index(package: ModuleType, pages: dict[str, list[Entry]]) -> str:
    """The package's page: its docstring, a table of ``__all__``, and the module pages."""
    names = [entry.full_name for entries in pages.values() for entry in entries]
    top_level = sorted(n for n in names if n.count(".") == 1)
    lines = [
        f".. This file is generated by docs/_ext/{Path(__file__).name}: do not edit.\n",
        heading(package.__name__, "="),
        f".. automodule:: {package.__name__}\n",
        f"Everything in ``{package.__name__}.__all__``, documented on the page of the module "
        "that defines it:\n",
        ".. autosummary::\n",
        # relative to the current module, as autosummary wants
        *(f"   {name.partition('.')[2]}" for name in top_level),
        "",
        *render_entries(pages[package.__name__]),
        ".. toctree::",
        "   :maxdepth: 1",
        "   :caption: Modules\n",
        *(f"   {name}" for name in pages if name != package.__name__),
        "",
    ]
    return "\n".join(lines)


def write_if_changed(path: Path, text: str) -> None:
    # rewriting an unchanged file would make Sphinx re-read it on every build
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(app: Sphinx) -> None:
    package = importlib.import_module(PACKAGE)
    pages = plan_pages(package)
    out = Path(app.srcdir) / OUTPUT
    out.mkdir(parents=True, exist_ok=True)
    home_of = {
        (entry.full_name.rpartition(".")[2], id(entry.obj)): entry.full_name
        for entries in pages.values()
        for entry in entries
    }
    wanted = {f"{PACKAGE}.rst"}
    write_if_changed(out / f"{PACKAGE}.rst", render_index(package, pages))
    for module in public_modules(package)[1:]:
        entries = pages[module.__name__]
        documented = {entry.full_name for entry in entries}
        elsewhere = [
            home_of[name, id(obj)]
            for name, obj in exported(module)
            if home_of[name, id(obj)] not in documented
        ]
        wanted.add(f"{module.__name__}.rst")
        write_if_changed(out / f"{module.__name__}.rst", render_page(module, entries, elsewhere))
    for stale in out.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    _HOMES.clear()
    _HOMES.update((e.full_name, e.home) for entries in pages.values() for e in entries)
    # ids of classes and functions only: those of small ints and strings are shared
    _DOCUMENTED_AT.clear()
    _DOCUMENTED_AT.update(
        (id(entry.obj), entry.full_name)
        for entries in pages.values()
        for entry in entries
        if inspect.isclass(entry.obj) or inspect.isroutine(entry.obj)
    )


def resolve(dotted: str) -> Any:
    """The object named ``dotted`` (``torchinit.policy.Policy``), or None."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        # only modules already imported: importing one (``torchinit.__main__``) may run code
        obj: Any = sys.modules.get(".".join(parts[:split]))
        if obj is None:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


def redirect_reference(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element
) -> nodes.Element | None:
    """Resolve ``torchinit.<module>.<Name>[.<attr>]`` to where ``<Name>`` is documented."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith(f"{PACKAGE}."):
        return None
    parts = target.split(".")
    for split in range(len(parts), 1, -1):
        full_name = _DOCUMENTED_AT.get(id(resolve(".".join(parts[:split]))))
        if full_name is not None and full_name != ".".join(parts[:split]):
            new_target = ".".join([full_name, *parts[split:]])
            domain = env.get_domain("py")
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], new_target, node, contnode
            )
    return None


def unlink_builtins(app: Sphinx, doctree: nodes.document) -> None:
    """Leave a builtin in a signature (``type[nn.Module]``, ``str``) as plain text.

    Sphinx looks up the names of annotations in "refspecific" mode, which matches any
    documented object whose name ends with the target: ``type`` would link to a dataclass
    field called ``type`` (``LayerRow.type``), or be ambiguous between two of them.
    """
    for node in list(doctree.findall(pending_xref)):
        target = node.get("reftarget", "")
        if node.get("refdomain") == "py" and target in vars(builtins):
            node.replace_self(node.children)


def document_data(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """A constant's ``#:`` comment in its home module, never the docstring of its type.

    autodoc reads ``#:`` comments from the module in the directive (``torchinit`` for
    ``torchinit.PRESETS``), and otherwise shows the docstring of the object's type
    (``tuple``'s, ``Registry``'s).
    """
    if what != "data":
        return
    if "\n".join(lines).strip() != (inspect.getdoc(type(obj)) or "").strip():
        return
    lines.clear()
    home = _HOMES.get(name)
    if home is not None:
        attribute_docs = ModuleAnalyzer.for_module(home).find_attr_docs()
        lines.extend(attribute_docs.get(("", name.rpartition(".")[2]), []))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    # before napoleon (priority 500), which would rewrite the type's docstring first
    app.connect("autodoc-process-docstring", document_data, priority=400)
    app.connect("missing-reference", redirect_reference)
    app.connect("doctree-read", unlink_builtins)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
