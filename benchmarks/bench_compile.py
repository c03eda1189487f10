"""``compile=True`` against the eager step: per-epoch time after compilation, and the compile time.

The MLP 784-512-512 (32 latents, batch 100) VAE and Echo on 10,000 random binary 28x28-sized rows
(the size of MNIST). Each model is fitted eagerly and compiled, ``--epochs`` epochs each, rounds
alternating; an epoch's time is ``history_["time"]``. The compiled fit's first epoch includes
the compilation: its excess over the compiled steady epochs is reported as the compile time
(excluded from the per-epoch ratio). Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_compile.py [--epochs 4] [--rounds 2]
"""

import argparse
import statistics
import warnings

import numpy as np
import torch

from skecho import BetaVAE, EchoAutoencoder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per fit (>= 2)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    parser.add_argument("--n-samples", type=int, default=10_000)
    args = parser.parse_args(argv)
    X = (np.random.default_rng(0).random((args.n_samples, 784)) < 0.13).astype(np.float32)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{args.n_samples} x 784, {args.epochs} epochs per fit\n")
    print("| model | eager s / epoch | compiled s / epoch | compiled / eager | compile s |")
    print("| --- | --- | --- | --- | --- |")
    for cls in (BetaVAE, EchoAutoencoder):
        eager, compiled, compile_s = [], [], []
        for _ in range(args.rounds):
            for flag, out in ((False, eager), (True, compiled)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    torch._dynamo.reset()  # every compiled fit compiles afresh
                    model = cls(n_components=32, hidden_sizes=(512, 512), max_epochs=args.epochs,
                                random_state=0, compile=flag).fit(X)
                times = model.history_["time"]
                out.extend(times[1:])
                if flag:
                    compile_s.append(times[0] - statistics.median(times[1:]))
        e, c = statistics.median(eager), statistics.median(compiled)
        print(f"| {cls.__name__} | {e:.3f} | {c:.3f} | {c / e:.3f} | "
              f"{statistics.median(compile_s):.1f} |", flush=True)


if __name__ == "__main__":
    main()
