"""A word-level language model, written as PyTorch's official ``word_language_model`` example is
(an embedding, a recurrent or transformer body, a decoder; truncated backpropagation through time,
gradient clipping, plain SGD with the learning rate divided by 4 when validation stops improving),
and run with ``import tinytorch as torch``.

The model is chosen by flag: ``--model RNN_TANH | RNN_RELU | LSTM | GRU | Transformer``. The
data is a directory with ``train.txt``, ``valid.txt`` and ``test.txt`` (``--data``, e.g. a copy
of WikiText-2); without one, a tiny corpus is generated from a small grammar (seeded, so every run
sees the same text), which is enough to watch the perplexity fall in a minute on two cores.

Usage::

    python examples/word_language_model.py --model LSTM --epochs 3
    python examples/word_language_model.py --model Transformer --nhead 2
    python examples/word_language_model.py --model GRU --framework torch     # the same script on PyTorch
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import random
import time


# ----------------------------------------------------------------------------- data
def tiny_corpus(sentences: int, seed: int) -> str:
    """Sentences from a small grammar (subject, verb, object, an optional place), one per line."""
    rng = random.Random(seed)
    subjects = ["the cat", "a dog", "the old man", "my sister", "the teacher", "a small bird", "the farmer"]
    verbs = ["sees", "likes", "finds", "carries", "watches", "follows", "feeds"]
    objects = ["the ball", "a red apple", "the river", "a long letter", "the green door", "some bread"]
    places = ["in the garden", "near the house", "at night", "by the river", "after dinner"]
    lines = []
    for _ in range(sentences):
        words = [rng.choice(subjects), rng.choice(verbs), rng.choice(objects)]
        if rng.random() < 0.5:
            words.append(rng.choice(places))
        lines.append(" ".join(words) + " .")
    return "\n".join(lines) + "\n"


class Dictionary:
    """Words to ids and back."""

    def __init__(self) -> None:
        self.word2idx: dict[str, int] = {}
        self.idx2word: list[str] = []

    def add_word(self, word: str) -> int:
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self) -> int:
        return len(self.idx2word)


class Corpus:
    """The three splits as 1-D int64 tensors of word ids; every line ends with an ``<eos>`` word."""

    def __init__(self, torch, path: str | None, seed: int, sentences: int = 2000):
        self.dictionary = Dictionary()
        if path:
            texts = [open(os.path.join(path, f"{name}.txt"), encoding="utf8").read()
                     for name in ("train", "valid", "test")]
        else:  # validation and test sets a tenth of the training set each
            texts = [tiny_corpus(n, seed + i) for i, n in enumerate((sentences, sentences // 10, sentences // 10))]
        self.train, self.valid, self.test = (self.tokenize(torch, text) for text in texts)

    def tokenize(self, torch, text: str):
        ids = [self.dictionary.add_word(word) for line in text.splitlines() for word in line.split() + ["<eos>"]]
        return torch.tensor(ids, dtype=torch.int64)


def batchify(data, bsz: int, device):
    """Cut the id stream into ``bsz`` columns: shape (len // bsz, bsz); each column a running text."""
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous().to(device)


def get_batch(source, i: int, bptt: int):
    """Rows ``i .. i + bptt`` as the input and the same shifted by one word as the target."""
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


# ----------------------------------------------------------------------------- models
def build_models(torch):
    """The model classes, defined against the given framework's ``nn``."""
    nn, F = torch.nn, torch.nn.functional

    class RNNModel(nn.Module):
        """Embedding, a recurrent body (RNN, LSTM or GRU) and a linear decoder to the vocabulary."""

        def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
            super().__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            if rnn_type in ("LSTM", "GRU"):
                self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
            else:
                nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
                self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)
            if tie_weights:  # the decoder shares the embedding matrix (Press & Wolf, 2017)
                if nhid != ninp:
                    raise ValueError("When using the tied flag, nhid must be equal to emsize")
                self.decoder.weight = self.encoder.weight
            self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers
            initrange = 0.1
            nn.init.uniform_(self.encoder.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            if self.rnn_type == "LSTM":
                return (weight.new_zeros((self.nlayers, bsz, self.nhid)),
                        weight.new_zeros((self.nlayers, bsz, self.nhid)))
            return weight.new_zeros((self.nlayers, bsz, self.nhid))

    class PositionalEncoding(nn.Module):
        """Adds sines and cosines of geometrically spaced frequencies to the embeddings, then dropout."""

        def __init__(self, d_model, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, d_model)
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))  # (max_len, 1, d_model)

        def forward(self, x):
            return self.dropout(x + self.pe[:x.size(0), :])

    class TransformerModel(nn.Module):
        """A causal transformer encoder over the embeddings (with positions) and a linear decoder."""

        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
            super().__init__()
            self.model_type = "Transformer"
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(ninp, dropout)
            layer = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout)
            self.transformer_encoder = nn.TransformerEncoder(layer, nlayers)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = nn.Linear(ninp, ntoken)
            initrange = 0.1
            nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        @staticmethod
        def causal_mask(sz):
            return torch.log(torch.tril(torch.ones(sz, sz)))  # 0 on and below the diagonal, -inf above

        def forward(self, src, has_mask=True):
            if has_mask:
                if self.src_mask is None or self.src_mask.size(0) != len(src):
                    self.src_mask = self.causal_mask(len(src)).to(src.device)
            else:
                self.src_mask = None
            src = self.pos_encoder(self.input_emb(src) * math.sqrt(self.ninp))
            output = self.decoder(self.transformer_encoder(src, self.src_mask))
            return F.log_softmax(output, dim=-1)

    return RNNModel, TransformerModel


def repackage_hidden(torch, h):
    """Detach the hidden state from its history: backpropagation stops at the batch boundary."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(torch, v) for v in h)


# ----------------------------------------------------------------------------- training
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Word-level language model (RNN/LSTM/GRU/Transformer)")
    p.add_argument("--data", default=None, help="a directory with train.txt, valid.txt, test.txt "
                                                "(default: a tiny generated corpus)")
    p.add_argument("--model", default="LSTM", choices=["RNN_TANH", "RNN_RELU", "LSTM", "GRU", "Transformer"])
    p.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    p.add_argument("--device", default="cpu", help='"cpu" (C backend), "numpy" or "cuda"')
    p.add_argument("--emsize", type=int, default=64, help="size of the word embeddings")
    p.add_argument("--nhid", type=int, default=64, help="hidden units per layer")
    p.add_argument("--nlayers", type=int, default=2)
    p.add_argument("--lr", type=float, default=None,
                   help="initial learning rate (default: 20, or 5 for the Transformer, which diverges at 20)")
    p.add_argument("--clip", type=float, default=0.25, help="gradient clipping")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch_size", type=int, default=20)
    p.add_argument("--bptt", type=int, default=35, help="sequence length")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--tied", action="store_true", help="tie the word embedding and softmax weights")
    p.add_argument("--seed", type=int, default=1111)
    p.add_argument("--log-interval", type=int, default=50)
    p.add_argument("--save", default=None, help="save the best model's state dict here")
    p.add_argument("--nhead", type=int, default=2, help="heads of the transformer model")
    p.add_argument("--words", type=int, default=20, help="words to generate at the end")
    p.add_argument("--sentences", type=int, default=2000, help="training sentences of the generated corpus")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch = importlib.import_module(args.framework)  # i.e. "import tinytorch as torch"
    nn = torch.nn
    torch.manual_seed(args.seed)
    device = args.device

    corpus = Corpus(torch, args.data, args.seed, args.sentences)
    eval_batch_size = 10
    train_data = batchify(corpus.train, args.batch_size, device)
    val_data = batchify(corpus.valid, eval_batch_size, device)
    test_data = batchify(corpus.test, eval_batch_size, device)

    ntokens = len(corpus.dictionary)
    RNNModel, TransformerModel = build_models(torch)
    if args.model == "Transformer":
        model = TransformerModel(ntokens, args.emsize, args.nhead, args.nhid, args.nlayers, args.dropout).to(device)
    else:
        model = RNNModel(args.model, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout,
                         args.tied).to(device)
    criterion = nn.NLLLoss()
    print(f"{args.framework} on {device}: {args.model}, {ntokens} words in the vocabulary, "
          f"{len(corpus.train)} training words")

    def evaluate(data_source) -> float:
        model.eval()
        total_loss = 0.0
        if args.model != "Transformer":
            hidden = model.init_hidden(eval_batch_size)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, args.bptt):
                data, targets = get_batch(data_source, i, args.bptt)
                if args.model == "Transformer":
                    output = model(data).view(-1, ntokens)
                else:
                    output, hidden = model(data, hidden)
                    hidden = repackage_hidden(torch, hidden)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)

    def train_epoch(epoch: int, lr: float) -> float:
        model.train()
        total_loss, start = 0.0, time.time()
        if args.model != "Transformer":
            hidden = model.init_hidden(args.batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
            data, targets = get_batch(train_data, i, args.bptt)
            model.zero_grad()
            if args.model == "Transformer":
                output = model(data).view(-1, ntokens)
            else:
                hidden = repackage_hidden(torch, hidden)
                output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)  # against exploding gradients
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            total_loss += loss.item()
            if batch % args.log_interval == 0 and batch > 0:
                cur_loss = total_loss / args.log_interval
                elapsed = time.time() - start
                print(f"| epoch {epoch:3d} | {batch:5d}/{len(train_data) // args.bptt:5d} batches | lr {lr:02.2f} | "
                      f"ms/batch {elapsed * 1000 / args.log_interval:5.2f} | loss {cur_loss:5.2f} | "
                      f"ppl {math.exp(cur_loss):8.2f}")
                total_loss, start = 0.0, time.time()
        return lr

    lr = args.lr if args.lr is not None else (5.0 if args.model == "Transformer" else 20.0)
    best_val_loss, history = None, {"val_loss": [], "seconds": []}
    best_state = None
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.time()
        train_epoch(epoch, lr)
        val_loss = evaluate(val_data)
        history["val_loss"].append(val_loss)
        history["seconds"].append(time.time() - epoch_start)
        print("-" * 89)
        print(f"| end of epoch {epoch:3d} | time: {time.time() - epoch_start:5.2f}s | valid loss {val_loss:5.2f} | "
              f"valid ppl {math.exp(val_loss):8.2f}")
        print("-" * 89)
        if best_val_loss is None or val_loss < best_val_loss:
            best_val_loss = val_loss
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
            if args.save:
                torch.save(model.state_dict(), args.save)
        else:
            lr /= 4.0  # no improvement on the validation set: anneal the learning rate
    if best_state is not None:
        model.load_state_dict(best_state)
    test_loss = evaluate(test_data)
    history["test_loss"] = [test_loss]
    print("=" * 89)
    print(f"| End of training | test loss {test_loss:5.2f} | test ppl {math.exp(test_loss):8.2f}")
    print("=" * 89)
    if args.words:
        print("sample:", generate(torch, model, args, corpus.dictionary, device))
    return history


def generate(torch, model, args, dictionary, device) -> str:
    """Sample ``args.words`` words from the model, one at a time, starting from a random word."""
    model.eval()
    ntokens = len(dictionary)
    input = torch.randint(ntokens, (1, 1), dtype=torch.int64).to(device)
    words = []
    with torch.no_grad():
        if args.model == "Transformer":
            for _ in range(args.words):
                output = model(input, False)
                weights = output[-1].squeeze().exp()
                word = torch.multinomial(weights, 1)[0]
                input = torch.cat([input, word.view(1, 1)], 0)
                words.append(dictionary.idx2word[int(word.item())])
        else:
            hidden = model.init_hidden(1)
            for _ in range(args.words):
                output, hidden = model(input, hidden)
                word = torch.multinomial(output.squeeze().exp(), 1)[0]
                input = word.view(1, 1)
                words.append(dictionary.idx2word[int(word.item())])
    return " ".join(words)


if __name__ == "__main__":
    main()
