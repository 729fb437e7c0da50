"""Classic and scale-aware policies: Fixup, generic zero-init of residual branches, muP,
LeCun (SELU) and orthogonal RNN init."""
