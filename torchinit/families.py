"""Layer families: public names for the groups of ``torch.nn`` layers that init code treats alike.

The classic ``weights_init`` hook tests class names (``classname.find('Conv') != -1``, which
also matches ``ConvTranspose2d`` and any class of yours called ``ConvBlock``); its
``isinstance`` form needs torch's private bases (``_ConvNd``, ``_BatchNorm``). A family is a
tuple of public ``torch.nn`` classes instead, so it works wherever a tuple of classes does,
subclasses included::

    isinstance(module, families.Conv)
    Rule(families.BatchNorm, weight="ones", bias="zeros")
    Rule((families.Conv, families.ConvTranspose), weight=Normal(0.0, 0.02))  # find('Conv')

and in a YAML policy by its name: ``match: {type: Conv}`` or ``type: [Conv, ConvTranspose]``.

======================  =====================================================================
family                  classes
======================  =====================================================================
``Conv``                ``Conv1d``, ``Conv2d``, ``Conv3d`` and their ``Lazy`` variants (not
                        transposed)
``ConvTranspose``       ``ConvTranspose1d``, ``ConvTranspose2d``, ``ConvTranspose3d`` and
                        their ``Lazy`` variants
``BatchNorm``           ``BatchNorm1d``, ``BatchNorm2d``, ``BatchNorm3d``, ``SyncBatchNorm``
                        and the ``LazyBatchNorm`` variants
``InstanceNorm``        ``InstanceNorm1d``, ``InstanceNorm2d``, ``InstanceNorm3d`` and their
                        ``Lazy`` variants
``Norm``                the two above, ``GroupNorm``, ``LayerNorm`` and ``RMSNorm``
                        (the normalization layers with an affine weight and bias)
``Embeddings``          ``Embedding``, ``EmbeddingBag`` (``Embedding`` alone is the
                        ``torch.nn`` class)
======================  =====================================================================

Linear layers need no family: ``nn.Linear`` is one class (``LazyLinear`` subclasses it), and so
are the recurrent bases ``nn.RNNBase`` (``RNN``, ``LSTM``, ``GRU``) and ``nn.RNNCellBase``.
A class that subclasses torch's private ``_ConvNd`` or ``_BatchNorm`` directly, rather than
one of the classes above, is in no family: name it itself.

**YAML type names** are resolved in this order: a ``torch.nn`` class (``Conv2d``); a family
(``Conv``); a class of the model or one of its bases (``Bottleneck``); a full dotted name
(``torchvision.models.resnet.Bottleneck``). A short name that is both a family and a class
of the model is an error, as the policy would mean one and silently match the other: write
``torchinit.families.Conv`` for the family, the class's full name for the class.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping, Sequence

from torch import nn

__all__ = [
    "FAMILIES",
    "BatchNorm",
    "Conv",
    "ConvTranspose",
    "Embeddings",
    "Family",
    "InstanceNorm",
    "Norm",
    "family_named",
    "family_names",
]


class Family(tuple[type[nn.Module], ...]):
    """A named tuple of layer classes: ``isinstance(module, family)`` is whether ``module`` is an
    instance of one of them (subclasses included).

    Args:
        name: the family's name, as YAML policies and reports write it.
        classes: its layer classes.

    Example:
        >>> from torch import nn
        >>> isinstance(nn.LazyConv2d(8, 3), Conv), isinstance(nn.ConvTranspose2d(3, 8, 3), Conv)
        (True, False)
        >>> Embeddings
        Family('Embeddings', (nn.Embedding, nn.EmbeddingBag))
    """

    name: str

    def __new__(cls, name: str, classes: Iterable[type[nn.Module]]) -> Family:
        family = super().__new__(cls, classes)
        family.name = name
        return family

    def __repr__(self) -> str:
        members = ", ".join(f"nn.{cls.__name__}" for cls in self)
        return f"Family({self.name!r}, ({members}))"

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return _family, (self.name,)  # the one family of that name


def _family(name: str) -> Family:
    return FAMILIES[name]


#: Conv1d, Conv2d, Conv3d and their lazy variants; not the transposed convolutions.
Conv = Family(
    "Conv", (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.LazyConv1d, nn.LazyConv2d, nn.LazyConv3d)
)
#: ConvTranspose1d, ConvTranspose2d, ConvTranspose3d and their lazy variants.
ConvTranspose = Family(
    "ConvTranspose",
    (
        nn.ConvTranspose1d,
        nn.ConvTranspose2d,
        nn.ConvTranspose3d,
        nn.LazyConvTranspose1d,
        nn.LazyConvTranspose2d,
        nn.LazyConvTranspose3d,
    ),
)
#: BatchNorm1d, BatchNorm2d, BatchNorm3d, SyncBatchNorm and the lazy variants.
BatchNorm = Family(
    "BatchNorm",
    (
        nn.BatchNorm1d,
        nn.BatchNorm2d,
        nn.BatchNorm3d,
        nn.SyncBatchNorm,
        nn.LazyBatchNorm1d,
        nn.LazyBatchNorm2d,
        nn.LazyBatchNorm3d,
    ),
)
#: InstanceNorm1d, InstanceNorm2d, InstanceNorm3d and their lazy variants.
InstanceNorm = Family(
    "InstanceNorm",
    (
        nn.InstanceNorm1d,
        nn.InstanceNorm2d,
        nn.InstanceNorm3d,
        nn.LazyInstanceNorm1d,
        nn.LazyInstanceNorm2d,
        nn.LazyInstanceNorm3d,
    ),
)
#: The normalization layers with an affine weight and bias: batch, instance, group, layer
#: and RMS norms.
Norm = Family("Norm", (*BatchNorm, *InstanceNorm, nn.GroupNorm, nn.LayerNorm, nn.RMSNorm))
#: Embedding and EmbeddingBag (not named ``Embedding``, which is ``torch.nn.Embedding``).
Embeddings = Family("Embeddings", (nn.Embedding, nn.EmbeddingBag))

#: Every family by name: the type names a policy may use besides ``torch.nn``'s and the model's.
FAMILIES: Mapping[str, Family] = types.MappingProxyType(
    {
        family.name: family
        for family in (Conv, ConvTranspose, BatchNorm, InstanceNorm, Norm, Embeddings)
    }
)

# the largest first, so that a rule on every norm reads "Norm", not "BatchNorm|InstanceNorm|..."
_BY_SIZE = sorted(FAMILIES.values(), key=len, reverse=True)


def family_named(name: str) -> Family | None:
    """The family a type name names, short (``Conv``) or full (``torchinit.families.Conv``);
    ``None`` if it names none.

    Example:
        >>> family_named("torchinit.families.Conv") is family_named("Conv") is Conv
        True
        >>> family_named("Conv2d") is None
        True
    """
    return FAMILIES.get(name.removeprefix(f"{__name__}."))


def family_names(classes: Sequence[type[nn.Module]]) -> list[str]:
    """The names of ``classes`` for a reader: a family whose classes are all there by its name
    (in the place of its first class), every other class by its own.

    Args:
        classes: layer classes, as a rule holds them.

    Example:
        >>> from torch import nn
        >>> family_names((nn.Linear, *Conv, *ConvTranspose))
        ['Linear', 'Conv', 'ConvTranspose']
        >>> family_names((nn.Conv2d, nn.BatchNorm2d))
        ['Conv2d', 'BatchNorm2d']
    """
    present = set(classes)
    whole: dict[type[nn.Module], Family] = {}
    for family in _BY_SIZE:
        if present.issuperset(family) and whole.keys().isdisjoint(family):
            whole.update(dict.fromkeys(family, family))
    names: list[str] = []
    written: set[str] = set()
    for cls in classes:
        whole_family = whole.get(cls)
        if whole_family is None:
            names.append(cls.__name__)
        elif whole_family.name not in written:
            written.add(whole_family.name)
            names.append(whole_family.name)
    return names
