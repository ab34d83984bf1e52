"""Model exchange with ONNX: :func:`load` runs an ONNX model as a tinytorch Module,
:func:`export` writes a tinytorch model as an ONNX file (``torch.onnx.export``'s signature).

Importing this module needs nothing beyond tinytorch (PyTorch programs ``import torch.onnx`` at
the top); using it needs the ``onnx`` package, the extra ``pip install "tinytorch[onnx]"``.
"""

from .exporter import export
from .importer import OnnxModule, load

__all__ = ["export", "load", "OnnxModule"]
