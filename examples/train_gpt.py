"""Train a character-level GPT on the Shakespeare corpus that ships with tinytorch, then sample.

The model is a decoder-only transformer in the style of GPT-2: token and position embeddings,
pre-norm blocks of causal self-attention and an MLP, weight tying between the embedding and the
output layer. The defaults are the size of nanoGPT's published CPU configuration (4 layers, 4
heads, 128 dimensions, a context of 64 characters, no dropout). Training uses AdamW with a
linear warm-up and a cosine decay, gradient clipping, and a train/validation estimate every
``--eval-interval`` steps; the best model is saved to ``--out``.

Everything below the imports is PyTorch: ``--framework torch`` runs the same script on PyTorch.

``model.generate(idx, max_new_tokens, temperature, top_k)`` samples with a **KV cache** (each new
token's keys and values are appended to the ones already computed, so a step costs one token's
work, not the whole context's); ``use_cache=False`` recomputes the whole context each step.
With the same seed both give the same text; ``--compare-cache`` measures the speed-up.

Usage::

    python examples/train_gpt.py                               # 5000 steps (~5 min on 2 cores), then samples
    python examples/train_gpt.py --framework torch             # the same on PyTorch
    python examples/train_gpt.py --max-iters 200 --eval-interval 100 --compare-cache
"""

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

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


@dataclass
class GPTConfig:
    block_size: int = 64
    vocab_size: int = 75
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees only itself and earlier positions."""

    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout

    def forward(self, x, cache=None):
        """``cache``: None, or a dict holding earlier positions' keys and values (updated in place)."""
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        # a query at position i may see keys 0..i; with a cache the queries are the last T positions
        causal = T > 1
        if causal and k.size(2) != T:
            raise ValueError("a cached forward pass takes one new position at a time after the prompt")
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=causal)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx, targets=None, caches=None, start=0):
        """Logits for positions ``start .. start + T - 1`` (and the loss if ``targets`` is given)."""
        B, T = idx.size()
        if start + T > self.config.block_size:
            raise ValueError(f"cannot run {start + T} positions: the context is {self.config.block_size}")
        pos = torch.arange(start, start + T, dtype=torch.long, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for i, block in enumerate(self.h):
            x = block(x, None if caches is None else caches[i])
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, use_cache=True):
        """Append ``max_new_tokens`` sampled tokens to ``idx`` (B, T).

        With ``use_cache`` each step runs only the newest token through the network, reusing
        the keys and values of earlier positions. Position embeddings are absolute, so when the
        sequence outgrows the context the window moves and the cache is rebuilt from the
        cropped context: exactly what ``use_cache=False`` computes, so both sample the same.
        """
        caches = None
        for _ in range(max_new_tokens):
            context = idx[:, -self.config.block_size:]
            if not use_cache:
                logits, _ = self(context)
            elif caches is None or idx.size(1) > self.config.block_size:
                caches = [{} for _ in self.h]  # prefill: the whole (cropped) context
                logits, _ = self(context, caches=caches)
            else:
                logits, _ = self(idx[:, -1:], caches=caches, start=idx.size(1) - 1)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


def load_corpus():
    """The shipped corpus, its character vocabulary, and the 90% / 10% train / val split as arrays."""
    from tinytorch.data.text import CharTokenizer, shakespeare_text

    text = shakespeare_text()
    tokenizer = CharTokenizer(text)
    ids = np.array(tokenizer.encode(text), dtype=np.int64)
    cut = int(0.9 * len(ids))
    return tokenizer, torch.from_numpy(ids[:cut]), torch.from_numpy(ids[cut:])


def get_batch(data, batch_size, block_size, device):
    ix = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([data[i:i + block_size] for i in ix.tolist()])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix.tolist()])
    return x.to(device), y.to(device)


@torch.no_grad()
def estimate_loss(model, splits, args, device):
    """The mean loss over ``args.eval_iters`` random batches of each split."""
    out = {}
    model.eval()
    for name, data in splits.items():
        losses = [model(*get_batch(data, args.batch_size, args.block_size, device))[1].item()
                  for _ in range(args.eval_iters)]
        out[name] = sum(losses) / len(losses)
    model.train()
    return out


def get_lr(it, args):
    """Linear warm-up for ``warmup_iters`` steps, then a cosine decay to ``min_lr`` at ``lr_decay_iters``."""
    if it < args.warmup_iters:
        return args.learning_rate * (it + 1) / (args.warmup_iters + 1)
    if it > args.lr_decay_iters:
        return args.min_lr
    ratio = (it - args.warmup_iters) / (args.lr_decay_iters - args.warmup_iters)
    return args.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (args.learning_rate - args.min_lr)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="character GPT on Shakespeare (tinytorch or PyTorch)")
    p.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="out-gpt", help="folder for the checkpoint and the log")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument("--max-iters", type=int, default=5000,
                   help="5000 reach a validation loss of about 1.84 in about 5 minutes on 2 cores")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup-iters", type=int, default=100)
    p.add_argument("--lr-decay-iters", type=int, default=None, help="default: max-iters")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--beta2", type=float, default=0.99)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--eval-interval", type=int, default=250)
    p.add_argument("--eval-iters", type=int, default=20)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: the library's)")
    p.add_argument("--samples", type=int, default=500, help="characters to sample after training")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--compare-cache", action="store_true", help="time generation with and without the KV cache")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    args.lr_decay_iters = args.lr_decay_iters or args.max_iters
    return args


def compare_cache(model, tokenizer, args, device, new_tokens=None):
    """Sample ``new_tokens`` twice from one seed, with and without the KV cache: same text, timed.

    The default fills the context exactly (``block_size - 1`` tokens after a one-token prompt):
    past it the window slides every step and, position embeddings being absolute, the cache
    must be rebuilt each time, so caching only pays inside one context.
    """
    new_tokens = new_tokens or args.block_size - 1
    start = torch.zeros((1, 1), dtype=torch.long, device=device)
    results = {}
    for use_cache in (True, False):
        torch.manual_seed(args.seed)
        t0 = time.perf_counter()
        out = model.generate(start, new_tokens, temperature=args.temperature, top_k=args.top_k, use_cache=use_cache)
        results[use_cache] = (tokenizer.decode(out[0].tolist()), time.perf_counter() - t0)
    same = results[True][0] == results[False][0]
    speedup = results[False][1] / results[True][1]
    print(f"KV cache: {new_tokens} tokens in {results[True][1]:.2f} s, without: {results[False][1]:.2f} s "
          f"({speedup:.1f}x faster); same text: {same}")
    return same, speedup


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    tokenizer, train_data, val_data = load_corpus()
    config = GPTConfig(block_size=args.block_size, vocab_size=tokenizer.vocab_size, n_layer=args.n_layer,
                       n_head=args.n_head, n_embd=args.n_embd, dropout=args.dropout)
    model = GPT(config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.framework}: {n_params / 1e6:.2f}M parameters, {len(train_data):,} training characters")

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.learning_rate, betas=(0.9, args.beta2))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = {"train": train_data, "val": val_data}
    log, best_val, started = [], float("inf"), time.perf_counter()
    bar = tqdm(range(args.max_iters + 1), disable=args.no_progress, desc="training")
    for it in bar:
        if it % args.eval_interval == 0 or it == args.max_iters:
            losses = estimate_loss(model, splits, args, device)
            elapsed = time.perf_counter() - started
            log.append({"iter": it, "train": losses["train"], "val": losses["val"], "seconds": elapsed})
            tqdm.write(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f} ({elapsed:.0f} s)")
            if losses["val"] < best_val:
                best_val = losses["val"]
                torch.save({"model": model.state_dict(), "config": asdict(config), "iter": it,
                            "val_loss": best_val}, str(out_dir / "ckpt.pt"))
        if it == args.max_iters:
            break
        for group in optimizer.param_groups:
            group["lr"] = get_lr(it, args)
        x, y = get_batch(train_data, args.batch_size, args.block_size, device)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    seconds = time.perf_counter() - started
    summary = {"framework": args.framework, "best_val": best_val, "final": log[-1], "seconds": seconds,
               "iters": args.max_iters, "log": log}
    (out_dir / "log.json").write_text(json.dumps(summary, indent=1))
    print(f"best val loss {best_val:.4f}; {seconds:.0f} s for {args.max_iters} steps "
          f"({1000 * seconds / max(args.max_iters, 1):.1f} ms per step, evaluation included)")

    model.eval()
    if args.samples:
        torch.manual_seed(args.seed)
        start = torch.tensor([tokenizer.encode("\n")], dtype=torch.long, device=device)
        out = model.generate(start, args.samples, temperature=args.temperature, top_k=args.top_k)
        print("---- sample ----")
        print(tokenizer.decode(out[0].tolist()))
    if args.compare_cache:
        compare_cache(model, tokenizer, args, device)


if __name__ == "__main__":
    main()
