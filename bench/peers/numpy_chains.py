"""Block-Gibbs chains with the seeds' numpy functions (../shared/bench/peers/numpy_rbm.py's
h_given_v, v_given_h and bernoulli, unchanged): `--chains` chains × `--steps` steps v → h → v on a
784-`--hidden` RBM with small random weights (the time barely depends on them). Prints one JSON
line {"seconds", "chains", "steps", "hidden", "dtype"}.

    python3 bench/peers/numpy_chains.py --chains 20 --steps 1000 --dtype float32
"""
import argparse
import json
import os
import sys
import time

import numpy as np

PEERS = os.environ.get(
    "RBM_PEERS_DIR",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "bench", "peers"),
)
sys.path.insert(0, PEERS)
from numpy_rbm import bernoulli, h_given_v, v_given_h  # noqa: E402  (the shared peer, found above)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", type=int, default=20)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--visible", type=int, default=784)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    dt = np.dtype(a.dtype)
    rng = np.random.default_rng(a.seed)
    W = (0.01 * rng.standard_normal((a.visible, a.hidden))).astype(dt)
    b = np.zeros((1, a.visible), dt)
    c = np.zeros((1, a.hidden), dt)
    v = (rng.random((a.chains, a.visible)) < 0.5).astype(dt)
    t0 = time.perf_counter()
    for _ in range(a.steps):
        h = bernoulli(h_given_v(v, W, c), rng)
        v = bernoulli(v_given_h(h, W, b), rng)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "chains": a.chains, "steps": a.steps, "hidden": a.hidden, "dtype": a.dtype}))


if __name__ == "__main__":
    main()
