#!/usr/bin/env python3
"""The seed's model in PyTorch, timed as `fashiongpu bench` times FashionGpu's step.

One training step: gather a batch of uint8 images from 1,024 synthetic samples and scale to
[0, 1], forward (Conv 32 3x3 + ReLU, MaxPool 2, Conv 64 3x3 + ReLU, MaxPool 2, Dropout 0.25,
Dense 128 + ReLU, Dropout 0.5, Dense 10), cross-entropy, backward, Adam (lr 1e-3, eps 1e-7).
Prints one line per batch size: "batch ms_per_step", the median of ROUNDS rounds of STEPS
steps after one warm-up step.

    pytorch-step.py [--batch-sizes 64,128,256] [--rounds 5] [--steps 5] [--threads N]
"""
import argparse
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError as e:  # the driver script turns this into its "skipped" line
    print(f"pytorch-step.py: PyTorch is not importable: {e}", file=sys.stderr)
    sys.exit(3)


def model():
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10))
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-sizes", default="64,128,256")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(3)
    samples = 1024
    pixels = torch.randint(0, 256, (samples, 1, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (samples,))
    order = torch.randint(0, samples, (samples,))
    for batch in (int(b) for b in a.batch_sizes.split(",")):
        net = model()
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
        loss_fn = nn.CrossEntropyLoss()
        step = 0

        def train_step():
            nonlocal step
            step += 1
            start = step * batch % (samples - batch + 1)
            idx = order[start:start + batch]
            x = pixels[idx].float().div_(255.0)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), labels[idx])
            loss.backward()
            opt.step()

        train_step()
        times = []
        for _ in range(a.rounds):
            t0 = time.perf_counter()
            for _ in range(a.steps):
                train_step()
            times.append((time.perf_counter() - t0) * 1000 / a.steps)
        print(f"{batch} {statistics.median(times):.3f}", flush=True)


if __name__ == "__main__":
    main()
