"""The vision-transformer presets ("vit", "swin", "maxvit", "timm_vit") are distributionally
equal to their originals.

torchvision and timm draw these models' tensors while building them, so no bit-exact replay
exists. The reference is the original model as it builds itself (``torch.manual_seed(0)``). The
candidate is the same model built under another seed, with every tensor the preset initializes
overwritten with NaN (so that a rule that does not fire cannot pass by accident), then
initialized by ``torchinit.init_model``. :func:`assert_same_distributions` then compares the two
state_dicts tensor by tensor:

* a tensor that is constant in the original (zeros, ones, log(10), ...) must be equal;
* a random one must pass a two-sample KS test, have the original's standard
  deviation within 6 / sqrt(2n) (the relative standard error of a sample std is about
  1 / sqrt(2n)) and its mean within 6 standard errors; where the strategy has an analytic std,
  both the original's and the candidate's sample std must match it within the same tolerance.

The KS threshold is p > 1e-4 for the model as a whole: with m random tensors each one needs
p > 1e-4 / m (Bonferroni). A per-tensor 1e-4 fails by chance on about one model in ten here:
MaxViT-T alone has 173 random tensors, and the seeds below give p = 2.7e-5 (swin_t
``features.5.3.mlp.3.weight``) and 4.8e-5 (maxvit_t ``...conv_a.0.weight``), while the
p-values as a whole are uniform (1.2% of them below 0.01). A wrong strategy on a tensor of a
few thousand values gives p far below either threshold; see ``test_helper_can_fail``.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import torchinit
from torchinit import (
    InvalidArgumentError,
    LecunNormal,
    Normal,
    TruncNormal,
    UnknownNameError,
    VarianceScaling,
    XavierUniform,
    calculate_fans,
)

stats = pytest.importorskip("scipy.stats", reason="scipy is not installed")

REFERENCE_SEED = 0
CANDIDATE_SEED = 1
KS_P_MIN = 1e-4  # for the whole model, split over its random tensors (Bonferroni)
SIGMAS = 6.0
KS_MAX_VALUES = 200_000  # KS on a strided sample of big tensors keeps the file fast


# --------------------------------------------------------------------------- the comparison


def analytic_std(strategy: Any, shape: tuple[int, ...]) -> float | None:
    """The std of the values ``strategy`` draws for ``shape``, or ``None`` if not known here."""
    if isinstance(strategy, Normal):
        return strategy.std
    if isinstance(strategy, TruncNormal):
        # only when the (absolute) bounds truncate nothing measurable
        far = min(strategy.b - strategy.mean, strategy.mean - strategy.a) / strategy.std
        return strategy.std if far >= 6 else None
    if isinstance(strategy, XavierUniform):
        fan_in, fan_out = calculate_fans(shape)
        return strategy.gain * math.sqrt(2.0 / (fan_in + fan_out))
    if isinstance(strategy, VarianceScaling):
        return strategy.std(shape)
    if isinstance(strategy, LecunNormal):
        return strategy.as_variance_scaling().std(shape)
    return None


def _ks_sample(values: torch.Tensor) -> Any:
    step = max(1, values.numel() // KS_MAX_VALUES)
    return values[::step].double().numpy()


def assert_same_distributions(
    reference: nn.Module,
    candidate: nn.Module,
    report: torchinit.InitReport | None = None,
) -> int:
    """Compare two models' state_dicts distributionally (see the module docstring).

    ``report`` (the candidate's ``init_model`` report) gives each tensor's strategy, so that
    its sample std is checked against the analytic value too. Returns how many tensors were
    compared as random.
    """
    ref_state = reference.state_dict()
    ours_state = candidate.state_dict()
    assert list(ref_state) == list(ours_state)
    strategies = {} if report is None else {e.name: e.strategy for e in report.initialized}
    failures: list[str] = []
    random_tensors = sum(
        1
        for ref in ref_state.values()
        if ref.is_floating_point() and ref.numel() > 0 and not torch.all(ref == ref.flatten()[0])
    )
    p_min = KS_P_MIN / max(1, random_tensors)
    for key, ref in ref_state.items():
        ours = ours_state[key]
        flat_ref = ref.detach().flatten()
        flat_ours = ours.detach().flatten()
        if not ref.is_floating_point() or flat_ref.numel() == 0:
            if not torch.equal(ref, ours):
                failures.append(f"{key}: not equal")
            continue
        if torch.all(flat_ref == flat_ref[0]):
            if not torch.equal(ref, ours):
                failures.append(f"{key}: constant {flat_ref[0].item()!r} in the original, not here")
            continue
        n = flat_ref.numel()
        tolerance = SIGMAS / math.sqrt(2 * n)
        std_ref = flat_ref.double().std().item()
        std_ours = flat_ours.double().std().item()
        p_value = stats.ks_2samp(_ks_sample(flat_ref), _ks_sample(flat_ours)).pvalue
        if not p_value > p_min:
            failures.append(f"{key}: KS p={p_value:.3g}")
        if not abs(std_ours / std_ref - 1) < tolerance:
            failures.append(f"{key}: std {std_ours:.4g} vs {std_ref:.4g} (n={n})")
        mean_gap = abs(flat_ours.double().mean().item() - flat_ref.double().mean().item())
        if not mean_gap < SIGMAS * std_ref * math.sqrt(2.0 / n):
            failures.append(f"{key}: mean differs by {mean_gap:.3g} (n={n})")
        expected = analytic_std(strategies.get(key), tuple(ref.shape))
        if expected is not None:
            for which, std in (("original", std_ref), ("preset", std_ours)):
                if not abs(std / expected - 1) < tolerance:
                    failures.append(f"{key}: {which} std {std:.4g}, analytic {expected:.4g}")
    assert not failures, "\n".join(failures)
    return random_tensors


def reinitialized(
    build: Callable[[], nn.Module], preset: str, **options: Any
) -> tuple[nn.Module, torchinit.InitReport]:
    """``build()`` under the candidate seed, the preset's tensors set to NaN, then the preset."""
    torch.manual_seed(CANDIDATE_SEED)
    model = build()
    planned = torchinit.plan(model, preset, **options)
    state = model.state_dict()
    with torch.no_grad():
        for entry in planned.initialized:
            state[entry.name].fill_(math.nan)
    report = torchinit.init_model(model, preset, **options)
    return model, report


def check_preset(build: Callable[[], nn.Module], preset: str, **options: Any) -> nn.Module:
    """Build the original and the candidate, compare them; return the candidate."""
    torch.manual_seed(REFERENCE_SEED)
    reference = build()
    candidate, report = reinitialized(build, preset, **options)
    assert assert_same_distributions(reference, candidate, report) > 0
    return candidate


def unmatched_owners(model: nn.Module, report: torchinit.InitReport) -> set[str]:
    """The unmatched tensors, as ``"<layer type>"`` (LayerNorm) or their full names."""
    modules = dict(model.named_modules())
    owners = set()
    for name in report.unmatched:
        owner = modules[name.rpartition(".")[0]]
        owners.add("LayerNorm" if isinstance(owner, nn.LayerNorm) else name)
    return owners


# --------------------------------------------------------------------------- torchvision


@pytest.fixture(scope="module")
def tv() -> types.ModuleType:
    pytest.importorskip("torchvision", reason="torchvision is not installed")
    import torchvision.models

    return torchvision.models


def small_vit(tv: types.ModuleType, **kwargs: Any) -> nn.Module:
    arguments: dict[str, Any] = dict(
        image_size=32,
        patch_size=8,
        num_layers=2,
        num_heads=2,
        hidden_dim=64,
        mlp_dim=128,
        num_classes=10,
    )
    arguments.update(kwargs)
    model: nn.Module = tv.vision_transformer.VisionTransformer(**arguments)
    return model


def test_helper_can_fail(tv):
    """The comparison rejects a wrong std, a wrong distribution and a changed constant."""
    torch.manual_seed(REFERENCE_SEED)
    reference = small_vit(tv)
    for key, change in [
        ("encoder.pos_embedding", lambda t: t.mul_(1.5)),
        ("encoder.layers.encoder_layer_0.mlp.0.weight", lambda t: t.normal_(0, t.std().item())),
        ("class_token", lambda t: t.fill_(1e-3)),
    ]:
        candidate, _ = reinitialized(lambda: small_vit(tv), "vit")
        with torch.no_grad():
            change(candidate.state_dict()[key])
        with pytest.raises(AssertionError, match=key):
            assert_same_distributions(reference, candidate)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"representation_size": 48}],
    ids=["small", "small-pre_logits"],
)
def test_vit_small(tv, kwargs):
    check_preset(lambda: small_vit(tv, **kwargs), "vit")


def test_vit_conv_stem(tv):
    stem = [tv.vision_transformer.ConvStemConfig(out_channels=16, kernel_size=3, stride=2)] * 3
    check_preset(lambda: small_vit(tv, conv_stem_configs=stem), "vit")


def test_vit_b_32(tv):
    check_preset(lambda: tv.vit_b_32(), "vit")


def test_swin_t(tv):
    check_preset(lambda: tv.swin_t(), "swin")


def test_swin_v2(tv):
    """v2: logit_scale log(10) exactly; cpb_mlp and qkv overwritten by the Linear loop."""
    model = check_preset(lambda: tv.swin_v2_t(num_classes=10), "swin")
    logit_scale = model.features[1][0].attn.logit_scale
    assert torch.equal(logit_scale, torch.log(10 * torch.ones_like(logit_scale)))


def test_maxvit_t(tv):
    check_preset(lambda: tv.maxvit_t(num_classes=10), "maxvit")


@pytest.mark.parametrize(
    ("preset", "build", "left"),
    [
        (
            "vit",
            lambda tv: small_vit(tv),
            {
                "LayerNorm",
                "encoder.layers.encoder_layer_0.self_attention.out_proj.weight",
                "encoder.layers.encoder_layer_1.self_attention.out_proj.weight",
            },
        ),
        ("swin", lambda tv: tv.swin_t(), {"LayerNorm", "features.0.0.weight", "features.0.0.bias"}),
        ("maxvit", lambda tv: tv.maxvit_t(), {"LayerNorm"}),
    ],
)
def test_torchvision_left_to_layer_defaults(tv, preset, build, left):
    """Exactly the tensors the original leaves to the layers' own defaults are unmatched."""
    model = build(tv)
    report = torchinit.plan(model, preset)
    assert unmatched_owners(model, report) == left


def test_vit_multihead_attention_variants():
    """kdim/vdim, add_bias_kv and bias=False: the layer's own _reset_parameters strategies."""
    model = nn.ModuleDict(
        {
            "split": nn.MultiheadAttention(8, 2, kdim=4, vdim=6, add_bias_kv=True),
            "no_bias": nn.MultiheadAttention(8, 2, bias=False),
        }
    )
    report = torchinit.plan(model, "vit")
    for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
        assert report[f"split.{name}"].strategy == XavierUniform()
    assert report["split.bias_k"].strategy == torchinit.XavierNormal()
    assert report["split.out_proj.bias"].strategy == torchinit.Zeros()
    # the None slots: the split layer has no in_proj_weight, the other no q/k/v or biases
    assert {e.name for e in report.skipped} == {
        "split.in_proj_weight",
        "no_bias.q_proj_weight",
        "no_bias.k_proj_weight",
        "no_bias.v_proj_weight",
        "no_bias.in_proj_bias",
        "no_bias.out_proj.bias",
    }


# --------------------------------------------------------------------------- timm


@pytest.fixture(scope="module")
def timm_vit_class() -> Any:
    pytest.importorskip("timm", reason="timm is not installed")
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer


TIMM_ARGS: dict[str, Any] = dict(
    img_size=64, patch_size=16, embed_dim=192, depth=4, num_heads=3, num_classes=100
)


@pytest.mark.parametrize("mode", ["", "jax", "jax_nlhb", "moco"])
def test_timm_vit_modes(timm_vit_class, mode):
    options = {"head_bias": -math.log(100)} if mode == "jax_nlhb" else {}
    model = check_preset(
        lambda: timm_vit_class(weight_init=mode, **TIMM_ARGS), "timm_vit", mode=mode, **options
    )
    if mode.startswith("jax"):
        assert torch.all(model.head.weight == 0)


def test_timm_vit_tiny_jax(timm_vit_class):
    """The registered vit_tiny_patch16_224 architecture, built from code (no weights)."""
    import timm

    check_preset(
        lambda: timm.create_model("vit_tiny_patch16_224", weight_init="jax"), "timm_vit", mode="jax"
    )


def test_timm_vit_layer_scale(timm_vit_class):
    """LayerScale's gamma gets the layer's own init_values."""
    build = lambda: timm_vit_class(init_values=1e-4, **TIMM_ARGS)  # noqa: E731
    model = check_preset(build, "timm_vit")
    assert torch.all(model.blocks[0].ls1.gamma == 1e-4)


@pytest.mark.parametrize(
    ("mode", "left"),
    [
        ("", {"LayerNorm", "patch_embed.proj.weight", "patch_embed.proj.bias"}),
        ("jax", {"LayerNorm"}),
        ("moco", {"LayerNorm", "patch_embed.proj.weight", "patch_embed.proj.bias"}),
    ],
)
def test_timm_vit_left_to_layer_defaults(timm_vit_class, mode, left):
    model = timm_vit_class(**TIMM_ARGS)
    report = torchinit.plan(model, "timm_vit", mode=mode)
    assert unmatched_owners(model, report) == left


def test_timm_vit_moco_qkv_bound(timm_vit_class):
    """moco's qkv bound sqrt(6 / (out/3 + in)) is what xavier_uniform(gain=sqrt(2)) gives."""
    model = timm_vit_class(weight_init="moco", **TIMM_ARGS)
    qkv = model.blocks[0].attn.qkv.weight
    bound = math.sqrt(6.0 / (qkv.shape[0] // 3 + qkv.shape[1]))
    report = torchinit.plan(model, "timm_vit", mode="moco")
    strategy = report["blocks.0.attn.qkv.weight"].strategy
    assert strategy == XavierUniform(gain=math.sqrt(2.0))
    assert analytic_std(strategy, tuple(qkv.shape)) == pytest.approx(bound / math.sqrt(3.0))
    assert float(qkv.detach().abs().max()) <= bound


# --------------------------------------------------------------------------- options, user models


def test_timm_vit_unknown_mode():
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.get_preset("timm_vit", mode="jaxx")
    assert str(caught.value) == (
        "timm_vit.mode: must be one of ['', 'jax', 'jax_nlhb', 'moco']; did you mean 'jax'? "
        "(got 'jaxx')"
    )


def test_timm_vit_mode_must_be_a_string():
    with pytest.raises(torchinit.ArgumentTypeError) as caught:
        torchinit.get_preset("timm_vit", mode=1)
    assert str(caught.value) == "timm_vit.mode: must be a string (got 1)"


def test_timm_vit_nlhb_needs_head_bias():
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.get_preset("timm_vit", mode="jax_nlhb")
    assert str(caught.value) == (
        "timm_vit.head_bias: mode 'jax_nlhb' needs head_bias=-log(num_classes) (torchinit "
        "cannot compute it from the model), e.g. head_bias=-math.log(1000) (got None)"
    )


def test_timm_vit_head_bias_only_for_jax():
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.get_preset("timm_vit", mode="moco", head_bias=0.5)
    assert str(caught.value) == (
        "timm_vit.head_bias: is used by modes 'jax' and 'jax_nlhb' only, not by mode 'moco' "
        "(got 0.5)"
    )


def test_timm_vit_jax_head_bias():
    policy = torchinit.get_preset("timm_vit", mode="jax", head_bias=-2.0)
    assert policy.rules[-1].strategies[1] == ("bias", torchinit.Constant(-2.0))


def test_presets_take_no_options():
    with pytest.raises(UnknownNameError) as caught:
        torchinit.get_preset("vit", mode="jax")
    assert str(caught.value) == "vit.mode: unknown option; preset 'vit' takes [] (got 'jax')"


class UserViT(nn.Module):
    """A user's ViT-like model: only torch.nn layers, timm's and torchvision's names."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_proj = nn.Conv2d(3, 16, 4, 4)
        self.patch_embed = nn.Conv2d(3, 16, 4, 4)
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, 16))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 16))
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.qkv = nn.Linear(16, 48)
        self.norm = nn.LayerNorm(16)
        self.mlp = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))
        self.head = nn.Linear(16, 10)


@pytest.mark.parametrize(
    ("preset", "options"),
    [
        ("vit", {}),
        ("swin", {}),
        ("maxvit", {}),
        ("timm_vit", {"mode": ""}),
        ("timm_vit", {"mode": "jax"}),
        ("timm_vit", {"mode": "jax_nlhb", "head_bias": -math.log(10)}),
        ("timm_vit", {"mode": "moco"}),
    ],
)
def test_presets_work_on_a_user_model(preset, options):
    """No library class is needed: the plan resolves and the init runs."""
    model = UserViT()
    report = torchinit.init_model(model, preset, strict=True, **options)
    assert report.initialized
    assert all(torch.isfinite(p).all() for p in model.parameters())
