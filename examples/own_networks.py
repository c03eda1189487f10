"""Your own networks: one conv encoder and decoder for 32x32 colour images, in Echo and the VAE.

Run ``python examples/own_networks.py`` (about 30 seconds on 2 CPU cores; with fewer than about
20 epochs the VAE is still in posterior collapse here). The images are generated here (a filled
disc or square of random colour, size and place on a dark background), so nothing is downloaded;
put your own ``(n, 32, 32, 3)`` array in their place. The same two factories serve both
estimators unchanged: skecho adds each channel's head (Echo's f and S, the Gaussian mean and
log-variance) on the encoder's features. Prints rate, distortion and the beta = 1 ELBO on
held-out images, in nats. ``--epochs``, ``--n-samples``, ``--early-stopping`` and ``--verbose``
change the run; ``--device cuda`` trains on a GPU.
"""

import argparse
import time

import numpy as np
from sklearn.model_selection import train_test_split
from torch import nn

from skecho import BetaVAE, EchoAutoencoder


def make_shapes(n_samples, size=32, random_state=0):
    """``(n, size, size, 3)`` float32 images in [0, 1]: one disc or square per image."""
    rng = np.random.default_rng(random_state)
    yy, xx = np.mgrid[:size, :size]
    images = np.empty((n_samples, size, size, 3), dtype=np.float32)
    for image in images:
        image[:] = rng.uniform(0.0, 0.2, size=3)
        radius = rng.uniform(4, 10)
        cy, cx = rng.uniform(radius, size - radius, size=2)
        if rng.random() < 0.5:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2
        else:
            mask = (np.abs(yy - cy) <= radius) & (np.abs(xx - cx) <= radius)
        image[mask] = rng.uniform(0.3, 1.0, size=3)
    return images


def conv_encoder(input_shape):
    """(C, 32, 32) images -> 256 features; skecho adds the channel's head."""
    channels = input_shape[0]
    return nn.Sequential(
        nn.Conv2d(channels, 32, 4, 2, padding=1), nn.ReLU(),   # 16x16
        nn.Conv2d(32, 64, 4, 2, padding=1), nn.ReLU(),         # 8x8
        nn.Conv2d(64, 64, 4, 2, padding=1), nn.ReLU(),         # 4x4
        nn.Flatten(), nn.Linear(64 * 4 * 4, 256), nn.ReLU(),
    )


def conv_decoder(n_latent_inputs, output_shape):
    """Codes -> (C, 32, 32) Bernoulli logits."""
    channels = output_shape[0]
    return nn.Sequential(
        nn.Linear(n_latent_inputs, 256), nn.ReLU(),
        nn.Linear(256, 64 * 4 * 4), nn.ReLU(), nn.Unflatten(1, (64, 4, 4)),
        nn.ConvTranspose2d(64, 64, 4, 2, padding=1), nn.ReLU(),  # 8x8
        nn.ConvTranspose2d(64, 32, 4, 2, padding=1), nn.ReLU(),  # 16x16
        nn.ConvTranspose2d(32, channels, 4, 2, padding=1),       # 32x32
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n-samples", type=int, default=2000,
                        help="images generated (a fifth held out for scoring)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs per model")
    parser.add_argument("--n-components", type=int, default=8, help="latent dimensions")
    parser.add_argument("--early-stopping", action="store_true",
                        help="hold out 10%% of the training images and stop on their ELBO")
    parser.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument("--seed", type=int, default=0, help="seed of the images, split and fits")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: a line per epoch, -vv: with a progress bar")
    args = parser.parse_args(argv)

    images = make_shapes(args.n_samples, random_state=args.seed)  # channels last, as usual
    X = images.transpose(0, 3, 1, 2)                               # skecho wants (n, C, H, W)
    X_train, X_test = train_test_split(X, test_size=0.2, random_state=args.seed)
    print(f"{len(X_train)} training images {X.shape[1:]}; rate, distortion, -ELBO in nats on "
          f"{len(X_test)} held-out images")
    for cls in (EchoAutoencoder, BetaVAE):
        model = cls(n_components=args.n_components, encoder=conv_encoder, decoder=conv_decoder,
                    max_epochs=args.epochs, early_stopping=args.early_stopping,
                    device=args.device, random_state=args.seed, verbose=args.verbose)
        start = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - start
        rate, distortion = model.rate_distortion(X_test)
        stopped = "" if model.best_epoch_ is None else f", best epoch {model.best_epoch_}"
        print(f"{cls.__name__:16s} rate {rate:7.2f}  distortion {distortion:8.2f}  "
              f"-ELBO {rate + distortion:8.2f}  ({model.n_iter_} epochs{stopped}, "
              f"{seconds:.1f}s, architecture_={model.architecture_!r})", flush=True)


if __name__ == "__main__":
    main()
