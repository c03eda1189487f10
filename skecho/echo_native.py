"""The Echo sum's pairwise tree, one native loop per row, and its orders in C (CPU only).

:mod:`skecho.echo_sum` runs the pairwise reduction of the Echo sum as PyTorch ops, a few dozen
of them per step, each a pass over a ``(K, B, d)`` slab; for small networks their dispatch and
memory traffic cost more than the arithmetic. This module computes the same tree in C, one
output row at a time in buffers that stay in the cache: the same floating-point operations on
the same operands (a fused multiply-add where the ops kernel calls ``torch.addcmul``, a product
where it calls ``torch.mul``) and the rows' gradients summed in the order of the ops kernel's
``index_add_`` (output row by output row, as each row's tree is done, so that no buffer of all
the leaves is needed), so that its results are bitwise those of the ops kernel. It saves
nothing for backward but the inputs (the tree is recomputed row by row) and reads the leaves
where they lie. It also sorts the random keys of :func:`skecho.noise.echo_noise`'s orders (a
bucket sort per row, the order a stable argsort gives), and for a batch's own noise sorts each
row's keys and sums that row's tree in one pass (:func:`noise`), while the row is in the cache.

The C source is compiled with the system's C compiler (``$CC``, else ``cc``, ``gcc`` or
``clang``) the first time Echo noise runs on the CPU, in well under a second, into
``$SKECHO_CACHE_DIR`` (default ``$XDG_CACHE_HOME/skecho``, else ``~/.cache/skecho``): one file
per source, flags, compiler and CPU, written whole or not at all; later processes load it. The
directory must be this user's alone (made so when created; one that others may write is
refused, since a library planted there would run as the user).
:func:`skecho.echo_sum.echo_kernel` says which kernel runs and why. ``SKECHO_NATIVE_KERNEL``:
``auto`` (the default: the native kernel where it builds and passes its check, the ops kernel
otherwise), ``0`` (always the ops kernel), ``1`` (the native kernel or an error).

This module knows nothing of the rest of skecho: :mod:`skecho.echo_sum` gives it the tree's
index tables and the check that the built kernel must pass.
"""

import contextlib
import ctypes
import hashlib
import operator
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import torch

__all__ = []  # no public names: skecho.echo_sum is its one user (echo_kernel is public there)

_SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One row of Echo noise's orders: `out` (K entries) lists the other rows by increasing key
   key[c] (B of them, row i's own left out), equal keys by column, as a stable sort orders
   them. A bucket sort (bucket floor(key B), monotone in the key, each bucket's columns in
   column order), then an insertion sort of the (key, column) pairs, which only moves them
   within their bucket: O(B) for uniform keys (as torch.rand draws them), O(B^2) for keys
   crowded into one bucket. buffer: 3 B + 1 entries. Returns -1 where a key has its sign bit
   set (a negative number or -0.0) or is not a number. */
static int sort_row(const float *key, int64_t i, int64_t B, int64_t K, int64_t *buffer,
                    int64_t *out) {
    uint64_t *pairs = (uint64_t *)buffer; /* B - 1 used */
    int64_t *bucket = buffer + B, *start = buffer + 2 * B;
    memset(start, 0, (B + 1) * sizeof(int64_t));
    for (int64_t c = 0; c < B; c++) {
        uint32_t bits;
        memcpy(&bits, key + c, sizeof(bits));
        if (c == i) continue;
        if (bits > 0x7f800000u) return -1; /* a sign bit set, or NaN */
        int64_t b = key[c] < 1.0f ? (int64_t)(key[c] * (float)B) : B - 1;
        bucket[c] = b < B ? b : B - 1;
        start[bucket[c] + 1]++;
    }
    for (int64_t b = 1; b <= B; b++) start[b] += start[b - 1];
    for (int64_t c = 0; c < B; c++) {
        uint32_t bits; /* non-negative floats order as their bit patterns */
        memcpy(&bits, key + c, sizeof(bits));
        if (c == i) continue;
        pairs[start[bucket[c]]++] = ((uint64_t)bits << 32) | (uint64_t)c;
    }
    for (int64_t x = 1; x < B - 1; x++) {
        uint64_t pair = pairs[x];
        int64_t y = x;
        for (; y > 0 && pairs[y - 1] > pair; y--) pairs[y] = pairs[y - 1];
        pairs[y] = pair;
    }
    for (int64_t x = 0; x < K; x++) out[x] = (int64_t)(pairs[x] & 0xffffffffu);
    return 0;
}

/* The pairwise tree of one output row (see skecho/echo_sum.py): leaf slot x holds the term at
   sequence position term_of_slot[x]; one level maps n nodes to n - n/2, node q < n/2 taking
   F = fma(S[q], F[n/2 + q], F[q]) and S = S[q] * S[n/2 + q], an odd last node carried up.
   The leaves are read where they lie (slot x: row row[term_of_slot[x]] of f and s), level 1
   goes to F and S; with `levels`, every later level follows the one below (sum(sizes) - K
   nodes in all: the backward's S_L and F_R); without, each overwrites the one below.
   Returns the root's F (a row of f where K = 1). */
#define ECHO_KERNELS(SUFFIX, REAL, FMA)                                                        \
static int rows_in_range_##SUFFIX(const int64_t *order, int64_t n, int64_t N) {                \
    for (int64_t e = 0; e < n; e++)                                                            \
        if (order[e] < 0 || order[e] >= N) return 0;                                           \
    return 1;                                                                                  \
}                                                                                              \
                                                                                               \
static const REAL *tree_##SUFFIX(const REAL *f, const REAL *s, const int64_t *row,             \
                                 const int64_t *term_of_slot, int64_t K, int64_t d, REAL *F,   \
                                 REAL *S, int levels) {                                        \
    if (K == 1) return f + row[term_of_slot[0]] * d;                                           \
    int64_t pairs = K / 2, up = K - K / 2;                                                     \
    for (int64_t q = 0; q < pairs; q++) { /* level 1 */                                        \
        const REAL *restrict f_L = f + row[term_of_slot[q]] * d;                               \
        const REAL *restrict s_L = s + row[term_of_slot[q]] * d;                               \
        const REAL *restrict f_R = f + row[term_of_slot[pairs + q]] * d;                       \
        const REAL *restrict s_R = s + row[term_of_slot[pairs + q]] * d;                       \
        REAL *restrict F_q = F + q * d, *restrict S_q = S + q * d;                             \
        for (int64_t j = 0; j < d; j++) F_q[j] = FMA(s_L[j], f_R[j], f_L[j]);                  \
        if (up > 1) /* the root's S is never needed */                                         \
            for (int64_t j = 0; j < d; j++) S_q[j] = s_L[j] * s_R[j];                          \
    }                                                                                          \
    if (K % 2) {                                                                               \
        memcpy(F + pairs * d, f + row[term_of_slot[2 * pairs]] * d, d * sizeof(REAL));         \
        memcpy(S + pairs * d, s + row[term_of_slot[2 * pairs]] * d, d * sizeof(REAL));         \
    }                                                                                          \
    for (int64_t n = up; n > 1; n -= n / 2) {                                                  \
        int64_t h = n / 2, rest = n - n / 2;                                                   \
        REAL *F_up = levels ? F + n * d : F, *S_up = levels ? S + n * d : S;                   \
        for (int64_t e = 0; e < h * d; e++) F_up[e] = FMA(S[e], F[h * d + e], F[e]);           \
        if (rest > 1) { /* the root's S is never needed */                                     \
            for (int64_t e = 0; e < h * d; e++) S_up[e] = S[e] * S[h * d + e];                 \
            if (n % 2) {                                                                       \
                memmove(F_up + h * d, F + 2 * h * d, d * sizeof(REAL));                        \
                memmove(S_up + h * d, S + 2 * h * d, d * sizeof(REAL));                        \
            }                                                                                  \
        }                                                                                      \
        F = F_up;                                                                              \
        S = S_up;                                                                              \
    }                                                                                          \
    return F;                                                                                  \
}                                                                                              \
                                                                                               \
/* eps (B, d) = the root of every row's tree. work: 2 K d. Returns -1, computing nothing,      \
   where `order` holds an index outside [0, N). */                                             \
int echo_forward_##SUFFIX(const REAL *f, const REAL *s, const int64_t *order,                  \
                          const int64_t *term_of_slot, int64_t N, int64_t B, int64_t K,        \
                          int64_t d, REAL *work, REAL *eps) {                                  \
    if (!rows_in_range_##SUFFIX(order, B * K, N)) return -1;                                   \
    for (int64_t i = 0; i < B; i++) {                                                          \
        const REAL *root = tree_##SUFFIX(f, s, order + i * K, term_of_slot, K, d, work,        \
                                         work + K * d, 0);                                     \
        memcpy(eps + i * d, root, d * sizeof(REAL));                                           \
    }                                                                                          \
    return 0;                                                                                  \
}                                                                                              \
                                                                                               \
/* dL/df and dL/dlog s (grads: 2 N d, zeroed) from dL/deps (grad: B d). From the root down,    \
   in place, W_L = W, W_R = W S_L, T_R = T, T_L = T + W_R F_R (T = 0 at the root, products     \
   rather than fused adds while it is); each leaf's W (dL/df) and T (dL/dlog s) is added to    \
   its row as soon as its output row's tree is done: output row by output row, within a row    \
   by leaf slot (the ops kernel's index_add_ order). sizes: the level sizes K, K - K/2, ...,   \
   1 (n_levels). work: 2 sum(sizes) d. Returns -1, computing nothing, where `order` holds an   \
   index outside [0, N). */                                                                    \
int echo_backward_##SUFFIX(const REAL *f, const REAL *s, const int64_t *order,                 \
                           const int64_t *term_of_slot, const int64_t *term_of_grad_slot,      \
                           const int64_t *sizes, int64_t n_levels, const REAL *grad,           \
                           int64_t N, int64_t B, int64_t K, int64_t d, REAL *work,             \
                           REAL *grads) {                                                      \
    if (!rows_in_range_##SUFFIX(order, B * K, N)) return -1;                                   \
    int64_t nodes = 0;                                                                         \
    for (int64_t level = 0; level < n_levels; level++) nodes += sizes[level];                  \
    nodes -= K; /* the leaves are read where they lie */                                       \
    REAL *F = work, *S = work + nodes * d, *W = work + 2 * nodes * d, *T = W + K * d;          \
    REAL *grads_W = grads, *grads_T = grads + N * d;                                           \
    int64_t half = K / 2, rest = K - K / 2;                                                    \
    for (int64_t i = 0; i < B; i++) {                                                          \
        const int64_t *row = order + i * K;                                                    \
        tree_##SUFFIX(f, s, row, term_of_slot, K, d, F, S, 1);                                 \
        memcpy(W, grad + i * d, d * sizeof(REAL));                                             \
        int have_T = 0;                                                                        \
        int64_t offset = nodes - 1; /* level l's nodes follow those of the levels below */     \
        for (int64_t level = n_levels - 2; level >= 1; level--) {                              \
            /* In place: the n children of the rest parents; the odd last child first, as      \
               right child h + q overwrites parent h + q (q = 0: the odd one's parent). */     \
            int64_t n = sizes[level], h = n / 2;                                               \
            offset -= n;                                                                       \
            const REAL *S_L = S + offset * d, *F_R = F + (offset + h) * d;                     \
            if (n % 2) {                                                                       \
                memcpy(W + 2 * h * d, W + h * d, d * sizeof(REAL));                            \
                if (have_T) memcpy(T + 2 * h * d, T + h * d, d * sizeof(REAL));                \
                else for (int64_t e = 0; e < d; e++) T[2 * h * d + e] = 0;                     \
            }                                                                                  \
            for (int64_t e = 0; e < h * d; e++) W[h * d + e] = W[e] * S_L[e];                  \
            if (have_T) {                                                                      \
                for (int64_t e = 0; e < h * d; e++) {                                          \
                    REAL t = T[e];                                                             \
                    T[h * d + e] = t;                                                          \
                    T[e] = FMA(W[h * d + e], F_R[e], t);                                       \
                }                                                                              \
            } else {                                                                           \
                for (int64_t e = 0; e < h * d; e++) T[e] = W[h * d + e] * F_R[e];              \
                for (int64_t e = 0; e < h * d; e++) T[h * d + e] = 0;                          \
            }                                                                                  \
            have_T = 1;                                                                        \
        }                                                                                      \
        if (!have_T) for (int64_t e = 0; e < rest * d; e++) T[e] = 0;                          \
        /* The leaves into their rows, slot by slot: W of the parents (grad slots 0 ..         \
           rest - 1) then of the right children (rest ..); T of the left children              \
           (slots 0 .. half - 1) then of the parents (half ..). */                             \
        for (int64_t r = 0; r < rest; r++) {                                                   \
            REAL *g = grads_W + row[term_of_grad_slot[r]] * d;                                 \
            for (int64_t j = 0; j < d; j++) g[j] += W[r * d + j];                              \
        }                                                                                      \
        for (int64_t q = 0; q < half; q++) {                                                   \
            const REAL *S_L = s + row[term_of_slot[q]] * d;                                    \
            const REAL *F_R = f + row[term_of_slot[half + q]] * d;                             \
            REAL *g_W = grads_W + row[term_of_grad_slot[rest + q]] * d;                        \
            REAL *g_T = grads_T + row[term_of_slot[q]] * d;                                    \
            for (int64_t j = 0; j < d; j++) {                                                  \
                REAL w = W[q * d + j] * S_L[j];                                                \
                g_W[j] += w;                                                                   \
                g_T[j] += FMA(w, F_R[j], T[q * d + j]);                                        \
            }                                                                                  \
        }                                                                                      \
        for (int64_t r = 0; r < rest; r++) {                                                   \
            REAL *g = grads_T + row[term_of_slot[half + r]] * d;                               \
            for (int64_t j = 0; j < d; j++) g[j] += T[r * d + j];                              \
        }                                                                                      \
    }                                                                                          \
    return 0;                                                                                  \
}                                                                                              \
                                                                                               \
/* Echo noise in one pass: each row's order (sort_row, into order (B, K)) and then its tree    \
   (into eps (B, d)) while the row is in the cache, for a batch f, s (B, d) and keys (B, B).   \
   work: 2 K d. Returns what echo_orders returns, the noise then unfinished. */                \
int echo_noise_##SUFFIX(const float *keys, const REAL *f, const REAL *s,                       \
                        const int64_t *term_of_slot, int64_t B, int64_t K, int64_t d,          \
                        REAL *work, int64_t *order, REAL *eps) {                               \
    int64_t *buffer = malloc((3 * B + 1) * sizeof(int64_t));                                   \
    int status = buffer ? 0 : -2;                                                              \
    for (int64_t i = 0; i < B && status == 0; i++) {                                           \
        status = sort_row(keys + i * B, i, B, K, buffer, order + i * K);                       \
        if (status == 0) {                                                                     \
            const REAL *root = tree_##SUFFIX(f, s, order + i * K, term_of_slot, K, d, work,    \
                                             work + K * d, 0);                                 \
            memcpy(eps + i * d, root, d * sizeof(REAL));                                       \
        }                                                                                      \
    }                                                                                          \
    free(buffer);                                                                              \
    return status;                                                                             \
}

ECHO_KERNELS(float32, float, fmaf)
ECHO_KERNELS(float64, double, fma)

/* Echo noise's orders: row i of `order` (B, K) sorts row i of keys (B, B) as sort_row does.
   Returns -1 where a key has its sign bit set or is not a number, -2 where memory runs
   out. */
int echo_orders(const float *keys, int64_t B, int64_t K, int64_t *order) {
    int64_t *buffer = malloc((3 * B + 1) * sizeof(int64_t));
    int status = buffer ? 0 : -2;
    for (int64_t i = 0; i < B && status == 0; i++)
        status = sort_row(keys + i * B, i, B, K, buffer, order + i * K);
    free(buffer);
    return status;
}
"""

#: Compiler flags: fused multiply-adds only where the source calls fma (as torch.addcmul does).
_FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-std=c99",
          "-shared", "-fPIC"]

_DTYPES = {torch.float32: "float32", torch.float64: "float64"}

_lock = threading.Lock()
_state = {"loaded": False, "library": None, "reason": "not loaded yet"}


def library(check):
    """The native kernel, loaded once per process, or None; ``check(library)`` returns an
    empty string where the built kernel may be used, else what is wrong with it."""
    if not _state["loaded"]:
        warning = None
        with _lock:
            if not _state["loaded"]:
                _state["library"], _state["reason"], warning = _load(check)
                _state["loaded"] = True
        if warning:  # outside the lock, once: the outcome is kept even if warnings are errors
            warnings.warn(warning, RuntimeWarning, stacklevel=3)
    return _state["library"]


def reason():
    """Where the loaded kernel lives, or why there is none."""
    return _state["reason"]


def _reset():
    """Forget the loaded kernel (tests: a changed environment is read again)."""
    with _lock:
        _state.update(loaded=False, library=None, reason="not loaded yet")


@contextlib.contextmanager
def ops_kernel(check):
    """Inside the block, Echo sums started (and so their backward) use the ops kernel. For
    tests and benchmarks: it changes the process-wide choice (not per thread), and a step
    compiled inside the block keeps the traced tree it was compiled with."""
    library(check)
    saved = dict(_state)
    _state.update(library=None, reason="the ops kernel requested (ops_kernel)")
    try:
        yield
    finally:
        _state.update(saved)


def setting():
    """``SKECHO_NATIVE_KERNEL``: "auto", "0" or "1"."""
    value = os.environ.get("SKECHO_NATIVE_KERNEL", "auto").strip().lower()
    if value not in ("auto", "0", "1"):
        raise ValueError(
            f"SKECHO_NATIVE_KERNEL must be 'auto', '0' (the PyTorch-ops kernel) or '1' (the "
            f"native kernel or an error), got {value!r}."
        )
    return value


def _load(check):
    """``(library or None, reason, warning or None)``."""
    mode = setting()
    if mode == "0":
        return None, "the ops kernel: SKECHO_NATIVE_KERNEL=0", None
    try:
        path = _build()
        try:
            loaded = ctypes.CDLL(path)
        except OSError:  # a damaged file in the cache: built again, once
            os.remove(path)
            path = _build()
            loaded = ctypes.CDLL(path)
        loaded = _bind(loaded)
    except (OSError, RuntimeError, AttributeError) as error:
        if mode == "1":
            raise RuntimeError(
                f"SKECHO_NATIVE_KERNEL=1, but the native Echo kernel could not be built: "
                f"{error}. Install a C compiler (or point CC at one), or unset "
                f"SKECHO_NATIVE_KERNEL to fall back to the PyTorch-ops kernel."
            ) from error
        return None, f"the ops kernel: the native kernel was not built ({error})", None
    try:
        # the check differentiates: whatever the caller's grad mode (no_grad, inference_mode)
        with torch.inference_mode(False), torch.enable_grad():
            problem = check(loaded)
    except Exception as error:  # noqa: BLE001 - any failure of the check is a failed check
        problem = f"the check failed: {type(error).__name__}: {error}"
    if problem:
        if mode == "1":
            raise RuntimeError(
                f"SKECHO_NATIVE_KERNEL=1, but the native Echo kernel differs from the "
                f"PyTorch-ops kernel on this machine ({problem}); unset SKECHO_NATIVE_KERNEL "
                f"to use the ops kernel."
            )
        warning = (f"skecho's native Echo kernel differs from its PyTorch-ops kernel on this "
                   f"machine ({problem}); the ops kernel is used (the same numbers, slower). "
                   f"Set SKECHO_NATIVE_KERNEL=0 to silence this.")
        return None, f"the ops kernel: the native kernel differs from it here ({problem})", warning
    return loaded, f"the native kernel, {path}", None


def _compiler():
    """The compiler command: ``$CC`` (split as a shell would, e.g. "ccache gcc"), else the first
    of cc, gcc and clang found."""
    if os.environ.get("CC"):
        command = shlex.split(os.environ["CC"])
        found = shutil.which(command[0]) if command else None
        if not found:
            raise RuntimeError(f"no C compiler found: CC={os.environ['CC']!r} does not name one")
        return [found, *command[1:]]
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return [found]
    raise RuntimeError("no C compiler found (looked for $CC, cc, gcc, clang)")


def _cache_dir():
    root = os.environ.get("SKECHO_CACHE_DIR")
    if root:
        return root
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if not os.path.isabs(home):  # no HOME, no password entry: never a folder named "~"
            raise RuntimeError("there is no home directory for the cache; set SKECHO_CACHE_DIR "
                               "to a writable directory")
        base = os.path.join(home, ".cache")
    return os.path.join(base, "skecho")


def _private(path, what):
    """Refuse to load code from ``path`` unless this user owns it and no one else may write it
    (a shared or world-writable cache would let another user plant the library)."""
    info = os.stat(path)
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        raise RuntimeError(
            f"the {what} {path} is not this user's alone (owned by another user, or writable by "
            f"group or others); set SKECHO_CACHE_DIR to a private directory")


def _cpu_signature():
    """What the compiled code depends on besides its source (-march=native: the CPU)."""
    lines = ""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith(("flags", "Features", "model name", "vendor_id")):
                    lines += line
                if not line.strip():  # the first CPU is enough
                    break
    except OSError:
        pass
    return f"{platform.machine()}|{platform.processor()}|{lines}"


def _run(command, what):
    try:
        return subprocess.run(command, capture_output=True, text=True, errors="replace",
                              timeout=300)
    except (OSError, subprocess.SubprocessError) as error:
        raise RuntimeError(f"{what} failed to run ({error})") from None


def _build():
    """The path of the compiled kernel: compiled unless this source, flags, compiler and CPU
    already have a build in the cache. The file appears whole or not at all (compiled under a
    temporary name in the cache directory, then renamed); the directory is the user's alone."""
    compiler = _compiler()
    version = _run([*compiler, "--version"], f"the C compiler {compiler[0]}").stdout
    key = hashlib.sha256("\0".join(
        [_SOURCE, " ".join(_FLAGS), " ".join(compiler), version, _cpu_signature(),
         sys.platform]
    ).encode()).hexdigest()[:20]
    directory = _cache_dir()
    path = os.path.join(directory, f"echo_sum-{key}.so")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as error:
        raise RuntimeError(f"the cache directory {directory} cannot be made ({error}); set "
                           f"SKECHO_CACHE_DIR to a writable directory") from None
    _private(directory, "cache directory")
    if os.path.exists(path):
        _private(path, "cached kernel")
        return path
    _remove_stale_builds(directory)
    try:
        build = tempfile.mkdtemp(dir=directory, prefix=".build-")
    except OSError as error:
        raise RuntimeError(f"the cache directory {directory} is not writable ({error}); set "
                           f"SKECHO_CACHE_DIR to a writable directory") from None
    try:
        source, target = os.path.join(build, "echo_sum.c"), os.path.join(build, "echo_sum.so")
        with open(source, "w") as handle:
            handle.write(_SOURCE)
        result = _run([*compiler, *_FLAGS, source, "-o", target, "-lm"],
                      f"the C compiler {compiler[0]}")
        if result.returncode != 0:
            raise RuntimeError(f"{compiler[0]} failed: {result.stderr.strip()[:500]}")
        os.chmod(target, 0o700)
        os.replace(target, path)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return path


def _remove_stale_builds(directory, age_s=3600):
    """Build folders left by a process killed while compiling (an hour old: no build takes
    that long)."""
    now = time.time()
    for entry in os.scandir(directory):
        try:
            if entry.name.startswith(".build-") and now - entry.stat().st_mtime > age_s:
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            pass


def _bind(loaded):
    pointer, size = ctypes.c_void_p, ctypes.c_int64
    for suffix in _DTYPES.values():
        forward_ = getattr(loaded, f"echo_forward_{suffix}")
        forward_.argtypes = [pointer] * 4 + [size] * 4 + [pointer] * 2
        forward_.restype = ctypes.c_int
        backward_ = getattr(loaded, f"echo_backward_{suffix}")
        backward_.argtypes = [pointer] * 6 + [size] + [pointer] + [size] * 4 + [pointer] * 2
        backward_.restype = ctypes.c_int
        noise_ = getattr(loaded, f"echo_noise_{suffix}")
        noise_.argtypes = [pointer] * 4 + [size] * 3 + [pointer] * 3
        noise_.restype = ctypes.c_int
    loaded.echo_orders.argtypes = [pointer, size, size, pointer]
    loaded.echo_orders.restype = ctypes.c_int
    return loaded


def supports(f, log_s, order=None):
    """Whether the native kernel takes these inputs: dense CPU tensors, ``f`` and ``log_s``
    both float32 or both float64, ``order`` (when given) int64."""
    tensors = (f, log_s) if order is None else (f, log_s, order)
    return (all(t.device.type == "cpu" and t.layout == torch.strided for t in tensors)
            and f.dtype in _DTYPES and log_s.dtype == f.dtype
            and (order is None or order.dtype == torch.int64))


def forward(loaded, f, s, order, term_of_slot):
    """The Echo sum ``(B, d)`` of codes ``f`` and scales ``s`` (not log-scales) over ``order``;
    ``term_of_slot``: the leaf layout (``skecho.echo_sum._tree_index``), int64 on the CPU."""
    f, s, order = f.contiguous(), s.contiguous(), order.contiguous()
    n_rows, n_terms = order.shape
    n_dims = f.shape[1]
    work = f.new_empty(2 * n_terms * n_dims)
    eps = f.new_empty(n_rows, n_dims)
    status = getattr(loaded, f"echo_forward_{_DTYPES[f.dtype]}")(
        f.data_ptr(), s.data_ptr(), order.data_ptr(), term_of_slot.data_ptr(),
        len(f), n_rows, n_terms, n_dims, work.data_ptr(), eps.data_ptr())
    if status != 0:
        raise rows_out_of_range(order, len(f))
    return eps


def backward(loaded, f, s, order, grad, term_of_slot, term_of_grad_slot, sizes, n_nodes):
    """``(2, N, d)``: dL/df and dL/dlog s of the Echo sum from dL/deps ``grad`` ``(B, d)``;
    the leaf layouts and the level sizes (int64 on the CPU) as ``skecho.echo_sum`` has them,
    and ``n_nodes``, the sum of the sizes (the nodes of one row's tree)."""
    f, s, order = f.contiguous(), s.contiguous(), order.contiguous()
    grad = grad.to(f.dtype).contiguous()
    n_rows, n_terms = order.shape
    n_source, n_dims = f.shape
    work = f.new_empty(2 * n_nodes * n_dims)
    grads = f.new_zeros(2, n_source, n_dims)
    status = getattr(loaded, f"echo_backward_{_DTYPES[f.dtype]}")(
        f.data_ptr(), s.data_ptr(), order.data_ptr(), term_of_slot.data_ptr(),
        term_of_grad_slot.data_ptr(), sizes.data_ptr(), len(sizes), grad.data_ptr(),
        n_source, n_rows, n_terms, n_dims, work.data_ptr(), grads.data_ptr())
    if status != 0:
        raise rows_out_of_range(order, n_source)
    return grads


def orders(loaded, keys, n_terms):
    """``(B, n_terms)`` int64: row ``i`` lists the other rows by increasing ``keys[i]`` (a
    ``(B, B)`` float32 CPU tensor of non-negative keys; equal keys by column), row ``i`` itself
    left out: the stable argsort of the keys with the diagonal pushed last, cut to
    ``n_terms <= B - 1`` columns. A bucket sort: linear in ``B`` per row for uniform keys
    (those of ``torch.rand``), quadratic for keys crowded into a ``1 / B`` interval."""
    keys, n_terms = _checked_keys(keys, n_terms, "orders", 0)
    order = torch.empty(len(keys), n_terms, dtype=torch.int64)
    _keys_status(loaded.echo_orders(keys.data_ptr(), len(keys), n_terms, order.data_ptr()),
                 len(keys))
    return order


def noise(loaded, keys, f, s, n_terms, term_of_slot):
    """Echo noise of a batch in one pass: ``(order, eps)``, the :func:`orders` of ``keys``
    (``(B, B)``, as there) and the Echo sum ``(B, d)`` of codes ``f`` and scales ``s`` (not
    log-scales; ``(B, d)``, the batch itself) over them, as :func:`forward` computes it (the
    same numbers), each row's order summed while it is in the cache; ``term_of_slot`` as for
    :func:`forward`."""
    keys, n_terms = _checked_keys(keys, n_terms, "noise", 1)
    if f.dim() != 2 or f.shape != s.shape or len(f) != len(keys):
        raise ValueError(f"noise() takes f and s of shape (B, d) for (B, B) keys, got "
                         f"{tuple(f.shape)} and {tuple(s.shape)} for {tuple(keys.shape)}")
    if not supports(f, s):
        raise ValueError(f"noise() takes dense CPU f and s, both float32 or both float64, got "
                         f"{f.dtype} and {s.dtype} on {f.device} and {s.device}")
    if term_of_slot.shape != (n_terms,) or term_of_slot.dtype != torch.int64:
        raise ValueError(f"noise() takes the leaf layout of {n_terms} terms (int64), got "
                         f"{term_of_slot.dtype} of shape {tuple(term_of_slot.shape)}")
    f, s = f.contiguous(), s.contiguous()
    n_rows, n_dims = f.shape
    order = torch.empty(n_rows, n_terms, dtype=torch.int64)
    work = f.new_empty(2 * n_terms * n_dims)
    eps = f.new_empty(n_rows, n_dims)
    _keys_status(getattr(loaded, f"echo_noise_{_DTYPES[f.dtype]}")(
        keys.data_ptr(), f.data_ptr(), s.data_ptr(), term_of_slot.data_ptr(), n_rows, n_terms,
        n_dims, work.data_ptr(), order.data_ptr(), eps.data_ptr()), n_rows)
    return order, eps


def _checked_keys(keys, n_terms, caller, least):
    """Contiguous ``keys`` and ``n_terms`` as an index, or a ValueError: ``(B, B)`` float32
    CPU keys and ``least <= n_terms <= B - 1``."""
    n_terms = operator.index(n_terms)
    if (keys.dim() != 2 or keys.shape[0] != keys.shape[1] or keys.dtype != torch.float32
            or keys.device.type != "cpu" or not least <= n_terms < max(len(keys), 1)):
        raise ValueError(f"{caller}() takes (B, B) float32 CPU keys and n_terms in [{least}, "
                         f"B - 1], got {keys.dtype} keys of shape {tuple(keys.shape)} on "
                         f"{keys.device} and n_terms={n_terms}")
    return keys.contiguous(), n_terms


def _keys_status(status, n_rows):
    """Raise what a sort's status reports (0: nothing)."""
    if status == -2:
        raise MemoryError(f"no memory for the orders of {n_rows} rows")
    if status != 0:
        raise ValueError("the keys of Echo noise's orders must be non-negative numbers (not "
                         "negative, -0.0 or NaN)")


def rows_out_of_range(order, n_source):
    """The error for an ``order`` that indexes outside the ``n_source`` rows of f and log_s."""
    return IndexError(
        f"order holds row indices outside [0, {n_source}) (from {int(order.min())} to "
        f"{int(order.max())}); each entry must index a row of f and log_s."
    )
