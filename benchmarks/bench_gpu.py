"""GPU training speed: skecho against hand-written PyTorch loops, for the 64x64 conv VAE and Echo.

On one CUDA device, trains the disentanglement_lib 64x64 conv nets (latent 10, batch 64) on
``--n-samples`` binary 64x64 images, one epoch per call, alternating the contenders round by round,
and prints per contender the median and fastest epoch, its ratio to skecho's epoch, and the peak
GPU memory of its epochs (``torch.cuda.max_memory_allocated``). The contenders, for each model
(``vae``: BetaVAE / Gaussian channel; ``echo``: EchoAutoencoder / Echo channel):

- ``skecho``: the estimator's ``partial_fit`` (the epoch time from ``history_``; the data kept on
  the device by skecho's loop); ``skecho compiled`` when the estimator has a ``compile`` option
  (``"compile" in Est().get_params()``), otherwise skipped with a note;
- ``plain``: a hand-written eager loop over the same networks, channel (``skecho.channels``) and
  loss, with Adam and the data on the device;
- ``plain host``: the same loop with the data on the host, each batch copied to the device (what
  a first PyTorch loop does); target: ``plain host / skecho >= 2``;
- ``plain compiled``: the plain loop with its loss (forward, and backward through AOTAutograd)
  compiled by ``torch.compile``; the optimiser step stays eager; compilation happens in the
  warm-up epoch and is not timed;
- ``plain bf16``: the plain loop under ``torch.autocast(dtype=torch.bfloat16)`` where the device
  supports it (plain loop only: skecho has no mixed-precision option); the channel's math runs
  in float32 on the encoder's output cast back.

Without CUDA it prints a skip line and exits with status 0 at once (before importing torch when
the machine has no GPU device nodes). Usage::

    python benchmarks/bench_gpu.py                    # about 3 minutes on one recent GPU
    python benchmarks/bench_gpu.py --n-samples 4000 --rounds 2 --models vae
"""

import argparse
import glob
import os
import statistics
import sys
import time


def gpu_device_present():
    """Cheap check before importing torch: NVIDIA or ROCm device nodes."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or os.path.exists("/dev/kfd")


def skip(reason):
    print(f"bench_gpu: skipped, {reason}")
    return 0


class PlainLoop:
    """A hand-written training loop over skecho's networks and channel, with Adam.

    ``model`` is "vae" or "echo"; ``host_data`` keeps the data on the CPU and copies every batch;
    ``compile_loss`` compiles the batch loss; ``bf16`` runs it under bfloat16 autocast.
    """

    def __init__(self, X, model, device, *, batch_size=64, n_components=10, host_data=False,
                 compile_loss=False, bf16=False, seed=0):
        import torch

        from skecho.channels import EchoChannel, GaussianChannel
        from skecho.networks import build_networks
        from skecho.noise import echo_clip_factor

        torch.manual_seed(seed)
        self.torch, self.device, self.batch_size, self.bf16 = torch, device, batch_size, bf16
        if model == "vae":
            self.channel = GaussianChannel(n_components)
        else:
            self.channel = EchoChannel(n_components, echo_clip_factor(batch_size - 1),
                                       batch_size - 1)
        encoder, decoder = build_networks(X.shape[1:], n_components, 2 * n_components)
        self.net = torch.nn.ModuleDict({"encoder": encoder, "decoder": decoder}).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        # on the host: pageable memory, as in a first hand-written loop
        self.data = torch.tensor(X, device="cpu" if host_data else device)
        self.loss = torch.compile(self._loss) if compile_loss else self._loss

    def _loss(self, x):
        torch = self.torch
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16):
            h = self.net["encoder"](x)
        params = self.channel.params(h.float())
        z = self.channel.rsample(params)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.net["decoder"](z)
        distortion = torch.nn.functional.binary_cross_entropy_with_logits(
            logits.float(), x, reduction="none").flatten(1).sum(1)
        return (distortion + self.channel.rate(params, z)).mean()

    def epoch(self):
        torch = self.torch
        n = len(self.data)
        perm = torch.randperm(n, device=self.data.device)
        total = torch.zeros((), device=self.device)
        for start in range(0, n - self.batch_size + 1, self.batch_size):
            x = self.data[perm[start:start + self.batch_size]].to(self.device)
            loss = self.loss(x)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.detach()
        return float(total)  # one host sync per epoch, as skecho's loop


def contenders_for(model, X, device, notes):
    """{name: (epoch function returning seconds, warm-up function)} for one model."""
    import torch

    from skecho import BetaVAE, EchoAutoencoder

    cls = BetaVAE if model == "vae" else EchoAutoencoder
    common = dict(n_components=10, batch_size=64, learning_rate=1e-3, lr_schedule="constant",
                  device=device, random_state=0)
    out = {}

    def skecho_contender(**extra):
        est = cls(**common, **extra)

        def epoch():
            est.partial_fit(X)
            return est.history_["time"][-1]

        return epoch

    out["skecho"] = skecho_contender()
    if "compile" in cls().get_params():
        out["skecho compiled"] = skecho_contender(compile=True)
    else:
        notes.append(f"{cls.__name__} has no 'compile' option yet: skecho compiled skipped")

    def plain_contender(**options):
        loop = PlainLoop(X, model, device, **options)

        def epoch():
            torch.cuda.synchronize()
            start = time.perf_counter()
            loop.epoch()
            torch.cuda.synchronize()
            return time.perf_counter() - start

        return epoch

    out["plain"] = plain_contender()
    out["plain host"] = plain_contender(host_data=True)
    out["plain compiled"] = plain_contender(compile_loss=True)
    if torch.cuda.is_bf16_supported():
        out["plain bf16"] = plain_contender(bf16=True)
    else:
        notes.append("bfloat16 not supported on this device: plain bf16 skipped")
    return out


def run(models, n_samples, rounds, device):
    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_training import make_images

    X = make_images(n_samples)
    notes = []
    for model in models:
        contenders = contenders_for(model, X, device, notes)
        times, peaks = {name: [] for name in contenders}, {}
        for name, epoch in list(contenders.items()):  # warm-up: allocation, autotuning, compile
            try:
                epoch()
            except Exception as error:  # e.g. torch.compile unavailable here
                notes.append(f"{model} {name} failed in warm-up and is skipped: "
                             f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
                del contenders[name], times[name]
        for _ in range(rounds):
            for name, epoch in contenders.items():
                torch.cuda.reset_peak_memory_stats(device)
                times[name].append(epoch())
                peaks[name] = max(peaks.get(name, 0), torch.cuda.max_memory_allocated(device))
        base_med = statistics.median(times["skecho"])
        base_min = min(times["skecho"])
        print(f"\n{model}: {n_samples} images 64x64, batch 64, latent 10, {rounds} rounds")
        print(f"  {'contender':16s} {'median s':>9s} {'fastest s':>10s} {'/ skecho':>9s} "
              f"{'fastest /':>10s} {'peak MiB':>9s}")
        for name, values in times.items():
            med, fast = statistics.median(values), min(values)
            print(f"  {name:16s} {med:9.3f} {fast:10.3f} {med / base_med:9.2f} "
                  f"{fast / base_min:10.2f} {peaks[name] / 2**20:9.0f}")
        if "plain host" in times:
            speedup = statistics.median(times["plain host"]) / base_med
            print(f"  skecho speed-up over the host-fed eager loop: {speedup:.2f}x (target >= 2)")
        if "plain" in times:
            print(f"  skecho / eager plain loop (data on the device): "
                  f"{base_med / statistics.median(times['plain']):.3f}")
    for note in notes:
        print(f"note: {note}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="epochs per contender, alternated")
    parser.add_argument("--models", nargs="+", default=["vae", "echo"], choices=("vae", "echo"))
    args = parser.parse_args(argv)
    if not gpu_device_present():
        return skip("no GPU device on this machine")
    import torch

    if not torch.cuda.is_available():
        return skip(f"CUDA not available to torch {torch.__version__}")
    device = "cuda"
    print(f"device {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
          f"CUDA {torch.version.cuda}")
    run(args.models, args.n_samples, args.rounds, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
