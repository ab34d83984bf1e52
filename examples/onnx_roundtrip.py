"""Models crossing between PyTorch, tinytorch and onnxruntime through ONNX files.

1. A small classifier is trained in PyTorch on two interleaved half-moons, exported with
   ``torch.onnx.export(..., dynamo=True)``, loaded with ``tinytorch.onnx.load`` and run: the same
   predictions. Then it is fine-tuned in tinytorch on points PyTorch never saw (its weights are
   ordinary parameters), and the fine-tuned model is exported again and run by onnxruntime.
2. A small CNN written in tinytorch is exported with ``tinytorch.onnx.export`` and run by
   onnxruntime: the same outputs.

Offline and small (a few seconds on a laptop). Step 1 needs torch and onnxscript and is skipped
without them; both steps need onnx, and the onnxruntime checks need onnxruntime.

Usage::

    python examples/onnx_roundtrip.py
"""

import importlib.util
import os
import tempfile
import warnings

import numpy as np

import tinytorch as tt
import tinytorch.onnx


def moons(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half-circles with noise: (n, 2) float32 points and their 0/1 labels."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    angle = rng.uniform(0, np.pi, n)
    x = np.stack([np.cos(angle) + label, np.sin(angle) * (1 - 2 * label) + 0.5 * label], 1)
    return (x + 0.15 * rng.standard_normal((n, 2))).astype(np.float32), label


def onnxruntime_run(path: str, x: np.ndarray) -> np.ndarray | None:
    """The model's output by onnxruntime, or None if it is not installed."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def pytorch_to_tinytorch(folder: str) -> None:
    import torch

    torch.manual_seed(0)
    x, y = moons(512, seed=0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                                torch.nn.Linear(32, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
    path = os.path.join(folder, "moons_torch.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.from_numpy(x[:4]),), path, dynamo=True, verbose=False,
                          dynamic_shapes=({0: torch.export.Dim("batch")},))

    loaded = tinytorch.onnx.load(path)
    test_x, test_y = moons(256, seed=1)
    with torch.no_grad():
        theirs = model(torch.from_numpy(test_x)).numpy()
    with tt.no_grad():
        ours = loaded(tt.tensor(test_x)).numpy()
    print(f"PyTorch -> tinytorch: max |difference| of the logits {np.abs(ours - theirs).max():.2e}, "
          f"accuracy {(ours.argmax(1) == test_y).mean():.3f}")

    # fine-tune in tinytorch on a shifted distribution PyTorch never saw
    shifted_x, shifted_y = moons(512, seed=2)
    shifted_x = shifted_x + np.float32(0.4)
    opt_tt = tt.optim.SGD(loaded.parameters(), lr=0.1)
    xs, ys = tt.tensor(shifted_x), tt.tensor(shifted_y)
    for step in range(101):
        opt_tt.zero_grad()
        loss = tt.nn.functional.cross_entropy(loaded(xs), ys)
        loss.backward()
        opt_tt.step()
        if step % 50 == 0:
            print(f"  fine-tuning in tinytorch, step {step:3d}: loss {loss.item():.4f}")

    again = os.path.join(folder, "moons_finetuned.onnx")
    tinytorch.onnx.export(loaded, (xs[:4],), again, input_names=loaded.input_names,
                          dynamic_axes={loaded.input_names[0]: [0]})
    ort = onnxruntime_run(again, shifted_x)
    if ort is not None:
        with tt.no_grad():
            mine = loaded(xs).numpy()
        print(f"  fine-tuned model exported again, onnxruntime agrees: max |difference| {np.abs(ort - mine).max():.2e}")


def tinytorch_to_onnxruntime(folder: str) -> None:
    nn = tt.nn
    tt.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 10)).eval()
    x = tt.randn(4, 1, 28, 28)
    path = os.path.join(folder, "cnn_tinytorch.onnx")
    proto = tinytorch.onnx.export(model, (x,), path, input_names=["image"], output_names=["logits"])
    print("tinytorch -> ONNX:", " ".join(n.op_type for n in proto.graph.node))
    ort = onnxruntime_run(path, x.numpy())
    if ort is None:
        print("  (onnxruntime is not installed: not run)")
        return
    with tt.no_grad():
        print(f"  onnxruntime agrees: max |difference| {np.abs(ort - model(x).numpy()).max():.2e}")


def main() -> None:
    if importlib.util.find_spec("onnx") is None:
        print('This example needs the onnx package: pip install "tinytorch[onnx]"')
        return
    with tempfile.TemporaryDirectory() as folder:
        if importlib.util.find_spec("torch") and importlib.util.find_spec("onnxscript"):
            pytorch_to_tinytorch(folder)
        else:
            print("PyTorch (with onnxscript) is not installed: the PyTorch -> tinytorch part is skipped")
        tinytorch_to_onnxruntime(folder)


if __name__ == "__main__":
    main()
