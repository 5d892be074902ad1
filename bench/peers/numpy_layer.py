"""The seeds' numpy RBM (../shared/bench/peers/numpy_rbm.py, unchanged) on the shapes of a DBN's upper layers.

numpy_rbm.py reads MNIST; a DBN's second and third RBMs see 500 binary hidden states instead. This
wrapper runs that same script's main() with its data loader replaced by `--rows` random binary rows
of width `--visible` (each bit 1 with probability 1/2, seeded), so the loop being timed is the
peer's own. All other flags go to numpy_rbm.py (--hidden, --batch, --k, --epochs, --dtype, ...).

    python3 bench/peers/numpy_layer.py --visible 500 --rows 10000 --hidden 2000 --dtype float32
"""
import argparse
import os
import sys

import numpy as np

PEERS = os.environ.get(
    "RBM_PEERS_DIR",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "bench", "peers"),
)
sys.path.insert(0, PEERS)
import numpy_rbm  # noqa: E402  (the shared peer, found above)


def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--visible", type=int, required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--data-seed", type=int, default=1)
    mine, rest = ap.parse_known_args()

    def random_rows(split="train", dtype=np.float32, **_):
        rng = np.random.default_rng(mine.data_seed)
        x = (rng.random((mine.rows, mine.visible)) < 0.5).astype(dtype)
        return x, np.zeros(mine.rows, np.int64)

    numpy_rbm.mnist.load = random_rows
    sys.argv = [sys.argv[0], *rest]
    numpy_rbm.main()


if __name__ == "__main__":
    main()
