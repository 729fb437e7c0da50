"""Importers from other systems' init dialects: each turns another library's init configuration
into torchinit strategies or policies, without importing that library unless the input is one
of its objects.

* :mod:`torchinit.dialects.mmengine`: mmengine/mmcv ``init_cfg`` (:func:`torchinit.from_mmengine`);
* :mod:`torchinit.dialects.keras`: Keras initializer configs and ``jax.nn.initializers`` names
  (:func:`torchinit.from_keras`, :func:`torchinit.from_jax`).
"""
