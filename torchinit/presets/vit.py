"""Vision transformers: torchvision's ViT, Swin and MaxViT, and timm's ViT init modes.

Their originals initialize while the model is built, so these presets are proven
distributionally (the same strategy and arguments for every tensor), not bit for bit.
"""
