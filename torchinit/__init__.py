"""torchinit: weight-initialization strategies and model-level policies for PyTorch.

One line for a whole model::

    import torchinit
    report = torchinit.init_model(model, "resnet")
    print(report)
"""

from torchinit import families as families
from torchinit.checking import CheckReport, TensorCheck, check
from torchinit.diagnosis import (
    Comparison,
    Diagnosis,
    LayerRow,
    ParamRow,
    compare_policies,
    diagnose,
)
from torchinit.dialects.keras import from_jax, from_keras
from torchinit.dialects.mmengine import from_mmengine
from torchinit.engine import init_model, plan
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    MissingDependencyError,
    OutOfRangeError,
    PlanError,
    PolicyFileError,
    RegistryError,
    TorchInitError,
    TorchInitWarning,
    UnknownNameError,
)
from torchinit.fans import calculate_fan, calculate_fans, calculate_gain
from torchinit.lsuv_init import LSUVLayer, LSUVReport, lsuv
from torchinit.materialize import register_buffer_init
from torchinit.patterns import NameGlob
from torchinit.policy import Policy, Rule
from torchinit.presets import PRESETS, FromModel, available_presets, get_preset, register_preset
from torchinit.report import InitReport, ReportEntry
from torchinit.sampling import trunc_normal_, trunc_normal_std_
from torchinit.strategies import (
    STRATEGIES,
    AttrStrategy,
    Checkpoint,
    Constant,
    Dirac,
    Eye,
    FanTruncNormal,
    FanUniform,
    FromAttr,
    FunctionStrategy,
    GateConstant,
    JaxGlorotNormal,
    JaxHeNormal,
    KaimingNormal,
    KaimingUniform,
    Law,
    LecunNormal,
    LecunUniform,
    Normal,
    Ones,
    Orthogonal,
    PaddedNormal,
    ScaledEye,
    Sparse,
    Strategy,
    TorchDefault,
    TruncNormal,
    TruncNormalInverseCDF,
    Uniform,
    VarianceScaling,
    XavierNormal,
    XavierUniform,
    Zeros,
    get_strategy,
    register_strategy,
    to_strategy,
)

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "STRATEGIES",
    "ArgumentTypeError",
    "AttrStrategy",
    "CheckReport",
    "Checkpoint",
    "Comparison",
    "Constant",
    "Diagnosis",
    "Dirac",
    "Eye",
    "FanTruncNormal",
    "FanUniform",
    "FromAttr",
    "FromModel",
    "FunctionStrategy",
    "GateConstant",
    "InitReport",
    "InvalidArgumentError",
    "JaxGlorotNormal",
    "JaxHeNormal",
    "KaimingNormal",
    "KaimingUniform",
    "LSUVLayer",
    "LSUVReport",
    "Law",
    "LayerRow",
    "LecunNormal",
    "LecunUniform",
    "MissingDependencyError",
    "NameGlob",
    "Normal",
    "Ones",
    "Orthogonal",
    "OutOfRangeError",
    "PaddedNormal",
    "ParamRow",
    "PlanError",
    "Policy",
    "PolicyFileError",
    "RegistryError",
    "ReportEntry",
    "Rule",
    "ScaledEye",
    "Sparse",
    "Strategy",
    "TensorCheck",
    "TorchDefault",
    "TorchInitError",
    "TorchInitWarning",
    "TruncNormal",
    "TruncNormalInverseCDF",
    "Uniform",
    "UnknownNameError",
    "VarianceScaling",
    "XavierNormal",
    "XavierUniform",
    "Zeros",
    "__version__",
    "available_presets",
    "calculate_fan",
    "calculate_fans",
    "calculate_gain",
    "check",
    "compare_policies",
    "diagnose",
    "from_jax",
    "from_keras",
    "from_mmengine",
    "get_preset",
    "get_strategy",
    "init_model",
    "lsuv",
    "plan",
    "register_buffer_init",
    "register_preset",
    "register_strategy",
    "to_strategy",
    "trunc_normal_",
    "trunc_normal_std_",
]
