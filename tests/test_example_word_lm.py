"""examples/word_language_model.py (written like PyTorch's official example) runs on tinytorch
with every model kind and learns: the validation loss falls well below that of guessing."""

import importlib.util
import math
from pathlib import Path

import pytest

import tinytorch as tt


def _example():
    path = Path(__file__).resolve().parent.parent / "examples" / "word_language_model.py"
    spec = importlib.util.spec_from_file_location("word_language_model_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("model", ["RNN_TANH", "RNN_RELU", "LSTM", "GRU", "Transformer"])
def test_word_language_model_learns(model, capsys):
    example = _example()
    layers = "2" if model in ("RNN_TANH", "Transformer") else "1"  # with dropout between the two
    args = ["--model", model, "--epochs", "2", "--sentences", "300", "--emsize", "32", "--nhid", "32",
            "--nlayers", layers, "--bptt", "20", "--batch_size", "4", "--lr", "10" if layers == "1" else "5",
            "--dropout", "0" if layers == "1" else "0.1", "--log-interval", "20", "--words", "5",
            "--device", str(tt.get_default_device())]
    history = example.main(args + (["--tied"] if model == "GRU" else []))
    vocabulary = 40  # the generated corpus's words and <eos>
    assert all(math.isfinite(v) for v in history["val_loss"] + history["test_loss"])
    # guessing uniformly costs log(40) = 3.7 nats a word; the next word of the grammar is far more certain
    assert history["val_loss"][-1] < math.log(vocabulary) - 1.0
    assert "sample:" in capsys.readouterr().out
