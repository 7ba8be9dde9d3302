"""SIMages: similarity joins on image collections with VGG-16 descriptors."""

import os

# Keras reads its backend once, at first import; SIMages runs on PyTorch everywhere.
os.environ.setdefault("KERAS_BACKEND", "torch")

__version__ = "0.1.0"
