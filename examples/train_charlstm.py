"""Train a character-level LSTM on the Shakespeare corpus that ships with tinytorch, then sample.

The same data, split and batches as ``examples/train_gpt.py``, with a recurrent model instead
of a transformer, so the two can be compared (chapter 11): an embedding, a 2-layer ``nn.LSTM``
and a linear read-out, trained with Adam, gradient clipping and a cosine schedule on random
windows of ``--block-size`` characters. Sampling carries the LSTM's state from one character to
the next, so it never recomputes the past.

Everything below the imports is PyTorch: ``--framework torch`` runs the same script on PyTorch.

Usage::

    python examples/train_charlstm.py                     # 2000 steps, then samples
    python examples/train_charlstm.py --framework torch
"""

import argparse
import math
import time

import numpy as np
from tqdm.auto import tqdm


def chosen_framework() -> str:
    """The ``--framework`` flag, read before the rest of the command line (it decides the imports)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    return p.parse_known_args()[0].framework


if chosen_framework() == "torch":
    import torch
else:
    import tinytorch as torch
nn = torch.nn
F = torch.nn.functional


class CharLSTM(nn.Module):
    def __init__(self, vocab_size, embed=128, hidden=256, layers=2, dropout=0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, dropout=dropout, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, idx, state=None, targets=None):
        out, state = self.lstm(self.embed(idx), state)
        logits = self.head(out)
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, state, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0):
        """Append ``max_new_tokens`` sampled characters to ``idx`` (B, T), one LSTM step each."""
        logits, state, _ = self(idx)
        for _ in range(max_new_tokens):
            probs = F.softmax(logits[:, -1, :] / temperature, dim=-1)
            nxt = torch.multinomial(probs, num_samples=1)
            idx = torch.cat((idx, nxt), dim=1)
            logits, state, _ = self(nxt, state)
        return idx


def load_corpus():
    """The shipped corpus, its character vocabulary, and the 90% / 10% train / val split."""
    from tinytorch.data.text import CharTokenizer, shakespeare_text

    text = shakespeare_text()
    tokenizer = CharTokenizer(text)
    ids = np.array(tokenizer.encode(text), dtype=np.int64)
    cut = int(0.9 * len(ids))
    return tokenizer, torch.from_numpy(ids[:cut]), torch.from_numpy(ids[cut:])


def get_batch(data, batch_size, block_size):
    ix = torch.randint(len(data) - block_size, (batch_size,)).tolist()
    return (torch.stack([data[i:i + block_size] for i in ix]),
            torch.stack([data[i + 1:i + 1 + block_size] for i in ix]))


@torch.no_grad()
def estimate_loss(model, splits, args):
    model.eval()
    out = {}
    for name, data in splits.items():
        losses = []
        for _ in range(args.eval_iters):
            x, y = get_batch(data, args.batch_size, args.block_size)
            losses.append(model(x, targets=y)[2].item())
        out[name] = sum(losses) / len(losses)
    model.train()
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description="character LSTM on Shakespeare (tinytorch or PyTorch)")
    p.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-iters", type=int, default=2000)
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--min-lr", type=float, default=3e-4)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--eval-interval", type=int, default=250)
    p.add_argument("--eval-iters", type=int, default=20)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    tokenizer, train_data, val_data = load_corpus()
    model = CharLSTM(tokenizer.vocab_size, hidden=args.hidden, layers=args.layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    print(f"{args.framework}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    splits, best_val, started = {"train": train_data, "val": val_data}, float("inf"), time.perf_counter()
    for it in tqdm(range(args.max_iters + 1), disable=args.no_progress, desc="training"):
        if it % args.eval_interval == 0 or it == args.max_iters:
            losses = estimate_loss(model, splits, args)
            best_val = min(best_val, losses["val"])
            tqdm.write(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f} "
                       f"({time.perf_counter() - started:.0f} s)")
        if it == args.max_iters:
            break
        lr = args.min_lr + 0.5 * (1 + math.cos(math.pi * it / args.max_iters)) * (args.learning_rate - args.min_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, args.batch_size, args.block_size)
        _, _, loss = model(x, targets=y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
    print(f"best val loss {best_val:.4f}; {time.perf_counter() - started:.0f} s for {args.max_iters} steps")
    if args.samples:
        model.eval()
        torch.manual_seed(args.seed)
        out = model.generate(torch.tensor([tokenizer.encode("\n")]), args.samples, temperature=0.8)
        print("---- sample ----")
        print(tokenizer.decode(out[0].tolist()))


if __name__ == "__main__":
    main()
