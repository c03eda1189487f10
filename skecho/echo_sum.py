"""The Echo sum as one custom autograd function: the kernel behind :func:`skecho.noise.echo_noise`.

``eps_i = sum_k prod_{l<k} S(x(l)) f(x(k))`` over a given sequence of rows per output row, reduced
pairwise as a composition of the affine maps ``e -> f + S e`` (``log2 K`` vectorised levels
forward and backward, ``O(B K d)``), with the direct gather-cumsum-exp sum kept as the reference
(``_echo_sum_gather``). Deterministic on the CPU at any thread count. On the CPU the tree runs
as one native loop per row where it can be built (:mod:`skecho.echo_native`, bitwise the same
numbers; :func:`echo_kernel` says which kernel runs), as PyTorch ops otherwise (``_EchoSum``). A
step compiled with ``torch.compile`` calls the native kernel too; where that does not run, it
traces the same tree written as plain ops (``_echo_tree_traceable``).
"""

import functools
from typing import Optional

import torch
from torch.autograd.function import once_differentiable

from . import echo_native

__all__ = ["echo_kernel", "echo_sum"]


def echo_sum(f, log_s, order):
    """The Echo sum over given sequences of rows: ``sum_k prod_{l<k} S(x(l)) f(x(k))``.

    Row ``i`` of the result sums over the rows listed in ``order[i]``, in that order; the weight
    of term ``k`` is the product of the scales of the earlier terms only. :func:`echo_noise`
    draws ``order`` from the other rows of a batch; an evaluation can draw it from a bank of
    codes. A row may be listed more than once in a sequence.

    The sum is a composition of the affine maps ``e -> f(x(k)) + S(x(k)) e`` and is reduced
    pairwise, ``log2 K`` levels of vectorised products over every row at once (forward and
    backward in one custom autograd function, see ``_EchoSum``): it costs ``O(B K d)`` like the
    direct sum but never exponentiates or cumulates a ``(B, K, d)`` tensor, so it is about
    three times faster on a CPU (``benchmarks/bench_echo_noise.py``), and the weights are
    products of scales in ``(0, 1)`` that can only underflow to 0. On the CPU the same tree
    runs as a native loop per row where a C compiler is found (:func:`echo_kernel`), about
    twice as fast again, with bitwise the same results. Its values equal those of the direct
    sum up to float rounding. Deterministic on the CPU at any thread count. Differentiable
    once (no double backward). The native kernel saves ``f`` itself for backward: changing
    ``f`` in place before the backward pass is an error, as for most torch operations.

    Parameters
    ----------
    f, log_s : torch.Tensor of shape (N, d)
        Codes and log-scales of the rows the terms come from.
    order : torch.Tensor of int64, shape (B, K)
        Row indices into ``f`` / ``log_s`` (in ``[0, N)``), one sequence of ``K`` terms per
        output row.

    Returns
    -------
    eps : torch.Tensor of shape (B, d)

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import echo_sum
    >>> f = torch.tensor([[1.0], [2.0], [4.0]])
    >>> echo_sum(f, torch.full((3, 1), 0.5).log(), torch.tensor([[2, 1]]))  # 4 + 0.5 * 2
    tensor([[5.]])
    >>> echo_sum(f, torch.full((3, 1), 0.5).log(), torch.tensor([[1, 1, 0]]))  # 2 + 1 + 0.25
    tensor([[3.2500]])
    """
    if order.numel() and (int(order.min()) < 0 or int(order.max()) >= len(f)):
        raise echo_native.rows_out_of_range(order, len(f))
    return _echo_sum(f, log_s, order, distinct=False)


def _echo_sum(f, log_s, order, distinct):
    """:func:`echo_sum`; ``distinct=True`` promises that no row repeats within a sequence, so
    that off the CPU the gradient is gathered row by row (no atomics) instead of accumulated
    with ``index_add_``. Traced by ``torch.compile`` (``compile=True``), the sum stays the eager
    native kernel where that runs (measured faster than tracing it, ``bench_compile.py``); a sum
    over distinct rows takes :func:`_echo_tree_traceable`, which inductor fuses, elsewhere."""
    if f.dim() != 2 or f.shape != log_s.shape:
        raise ValueError(
            f"f and log_s must both be (N, d) tensors of the same shape, got {tuple(f.shape)} "
            f"and {tuple(log_s.shape)}."
        )
    if order.dim() != 2:
        raise ValueError(f"order must be a (B, K) tensor of row indices, got {tuple(order.shape)}.")
    if order.shape[1] == 0:
        return f.new_zeros(order.shape[0], f.shape[1])
    if (distinct and _COMPILABLE and torch.compiler.is_compiling()
            and not (echo_native.supports(f, log_s, order) and _native_kernel_loaded())):
        return _echo_tree_traceable(f, log_s, order)
    return _echo_sum_eager(f, log_s, order, distinct)


@torch.compiler.assume_constant_result  # read once, when a step is traced
def _native_kernel_loaded():
    return echo_native.library(_check_native) is not None


# Fused already: a compiled step calls it as it is (the native kernel) or traces
# _echo_tree_traceable instead (see _echo_sum).
@torch.compiler.disable
def _echo_sum_eager(f, log_s, order, distinct):
    needs_grad = torch.is_grad_enabled() and (f.requires_grad or log_s.requires_grad)
    library = _native_library(f, log_s, order)
    if library is not None:
        if needs_grad:
            return _NativeEchoSum.apply(f, log_s, order, library)
        return _native_forward(library, f, log_s.exp(), order)
    if needs_grad:
        return _EchoSum.apply(f, log_s, order, distinct)
    return _echo_tree_forward(f, log_s, order, keep=False)[0]


def _native_orders(keys, n_terms):
    """:func:`skecho.echo_native.orders` where the native kernel runs and takes ``keys`` (a
    float32 CPU tensor), else None."""
    if keys.device.type != "cpu" or keys.dtype != torch.float32:
        return None
    loaded = echo_native.library(_check_native)
    return None if loaded is None else echo_native.orders(loaded, keys, n_terms)


def _native_library(f, log_s, order):
    """The native kernel (:mod:`skecho.echo_native`) where it takes these inputs, else None."""
    if not echo_native.supports(f, log_s, order):
        return None
    return echo_native.library(_check_native)


def echo_kernel():
    """Which kernel computes the Echo sum on the CPU, ``"native"`` or ``"torch"``, and why.

    The native kernel (:mod:`skecho.echo_native`: the pairwise tree in C, one row at a time,
    and the sort of :func:`skecho.noise.echo_noise`'s random orders, each row sorted and summed
    in one pass) is compiled on first use where a C compiler is found, and used only where it
    reproduces the PyTorch-ops kernel bit for bit (checked once per process on a few shapes,
    forward and backward, and its orders against torch's stable argsort; a failed check
    leaves both to the PyTorch path);
    elsewhere, and off the CPU, the ops kernel runs (and numpy or torch sorts the orders).
    Both give the same numbers; the native one is faster and keeps only the inputs for backward
    (``benchmarks/bench_echo_noise.py``). ``SKECHO_NATIVE_KERNEL=0`` in the environment keeps
    the ops kernel; ``SKECHO_NATIVE_KERNEL=1`` makes a failed build an error. Calling this
    builds or loads the native kernel if that has not happened yet.

    Returns
    -------
    kernel : str
        ``"native"`` or ``"torch"`` (the PyTorch-ops kernel).
    reason : str
        Where the native kernel was loaded from, or why the ops kernel runs.

    Examples
    --------
    >>> from skecho.noise import echo_kernel
    >>> kernel, reason = echo_kernel()
    >>> kernel in ("native", "torch")
    True
    """
    loaded = echo_native.library(_check_native)
    return ("native" if loaded is not None else "torch"), echo_native.reason()


def _ops_kernel():
    """Tests and benchmarks: a context in which Echo sums use the PyTorch-ops kernel."""
    return echo_native.ops_kernel(_check_native)


@functools.lru_cache(maxsize=None)
def _native_tables(n_terms):
    """The native kernel's index tables: the leaf layouts and the level sizes (CPU, int64),
    and the number of nodes of one row's tree (the sizes' sum)."""
    cpu = torch.device("cpu")
    sizes = _level_sizes(n_terms)
    return (_tree_index(n_terms, "term_of_slot", cpu),
            _tree_index(n_terms, "term_of_grad_slot", cpu),
            torch.tensor(sizes, dtype=torch.long), sum(sizes))


def _native_forward(loaded, f, s, order):
    return echo_native.forward(loaded, f, s, order, _native_tables(order.shape[1])[0])


def _native_pass(loaded, keys, f, s, n_terms):
    return echo_native.noise(loaded, keys, f, s, n_terms, _native_tables(n_terms)[0])


def _native_backward(loaded, f, s, order, grad):
    return echo_native.backward(loaded, f, s, order, grad, *_native_tables(order.shape[1]))


class _NativeEchoSum(torch.autograd.Function):
    """:class:`_EchoSum` computed by the native kernel, bitwise the same; backward recomputes
    the tree row by row, so only ``f``, the scales and the orders are saved."""

    @staticmethod
    def forward(ctx, f, log_s, order, loaded):
        s = log_s.exp()
        ctx.save_for_backward(f, s, order)
        ctx.loaded = loaded
        return _native_forward(loaded, f, s, order)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        return (*_native_gradients(ctx, grad), None, None)


def _native_gradients(ctx, grad):
    """dL/df and dL/dlog s of a native Echo sum from the saved ``(f, s, order)``."""
    f, s, order = ctx.saved_tensors
    grads = _native_backward(ctx.loaded, f, s, order, grad)
    return grads[0], grads[1]


def _draw_keys(n_rows, generator, device):
    """The ``(B, B)`` uniform keys whose stable sorts are Echo noise's random orders (in the
    default dtype, as ``torch.rand`` draws them)."""
    return torch.rand(n_rows, n_rows, generator=generator, device=device)


@torch.compiler.disable  # the keys are drawn eagerly, as noise._other_rows_order draws them
def _native_noise(f, log_s, n_terms, generator):
    """Echo noise without replacement by the native kernel, the random orders and their sums
    in one pass (:func:`skecho.echo_native.noise`; the same numbers as sorting the orders and
    summing over them), or None, nothing drawn, where the native kernel does not take ``f``
    and ``log_s`` or the keys would not be float32 (another default dtype)."""
    if not echo_native.supports(f, log_s) or torch.get_default_dtype() != torch.float32:
        return None
    loaded = echo_native.library(_check_native)
    if loaded is None:
        return None
    keys = _draw_keys(len(f), generator, f.device)
    if torch.is_grad_enabled() and (f.requires_grad or log_s.requires_grad):
        return _NativeEchoNoise.apply(f, log_s, keys, n_terms, loaded)
    return _native_pass(loaded, keys, f, log_s.exp(), n_terms)[1]


class _NativeEchoNoise(torch.autograd.Function):
    """Echo noise by the native kernel: the orders of ``keys`` and their sums in one pass
    forward; backward as :class:`_NativeEchoSum`'s (only ``f``, the scales and the orders
    saved)."""

    @staticmethod
    def forward(ctx, f, log_s, keys, n_terms, loaded):
        s = log_s.exp()
        order, eps = _native_pass(loaded, keys, f, s, n_terms)
        ctx.save_for_backward(f, s, order)
        ctx.loaded = loaded
        return eps

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        return (*_native_gradients(ctx, grad), None, None, None)


def _check_native(loaded):
    """An empty string where the native kernel equals the ops kernel bit for bit on a few
    shapes (odd and even term counts, dimensions off the vector width, repeated rows, a bank
    of more rows than sequences, both dtypes), forward and backward, its orders equal torch's
    stable argsort (with equal keys) and its one pass of orders and sums equals the two apart;
    else what differs."""
    generator = torch.Generator().manual_seed(0)
    for n_source, n_rows, n_terms, n_dims, dtype in [
        (9, 9, 8, 5, torch.float32), (13, 11, 13, 33, torch.float32),
        (6, 5, 1, 3, torch.float32), (7, 7, 2, 17, torch.float32),
        (40, 20, 37, 8, torch.float64),
    ]:
        f = torch.randn(n_source, n_dims, generator=generator, dtype=dtype)
        log_s = torch.rand(n_source, n_dims, generator=generator, dtype=dtype).mul(-3)
        order = torch.randint(n_source, (n_rows, n_terms), generator=generator)
        grad = torch.randn(n_rows, n_dims, generator=generator, dtype=dtype)
        shape = f"{n_rows} rows of {n_terms} terms from {n_source}, d = {n_dims}, {dtype}"
        expected = _echo_tree_forward(f, log_s, order, keep=False)[0]
        if not torch.equal(_native_forward(loaded, f, log_s.exp(), order), expected):
            return f"the forward, {shape}"
        leaves = f.clone().requires_grad_(), log_s.clone().requires_grad_()
        _EchoSum.apply(*leaves, order, False).backward(grad)
        grads = _native_backward(loaded, f, log_s.exp(), order, grad)
        if not all(torch.equal(got, leaf.grad) for got, leaf in zip(grads, leaves)):
            return f"the backward, {shape}"
    for n_rows, n_terms, dtype in [(2, 1, torch.float32), (7, 6, torch.float64),
                                   (9, 4, torch.float32), (130, 129, torch.float64)]:
        keys = torch.rand(n_rows, n_rows, generator=generator, dtype=torch.float32)
        keys[:, ::3] = keys[:, :1]  # equal keys: ordered by column
        pushed = keys.clone().fill_diagonal_(2.0)  # each row's own key last
        expected = torch.argsort(pushed, dim=1, stable=True)[:, :n_terms]
        if not torch.equal(echo_native.orders(loaded, keys, n_terms), expected):
            return f"the orders, {n_rows} rows of {n_terms} terms"
        f = torch.randn(n_rows, 7, generator=generator, dtype=dtype)
        log_s = torch.rand(n_rows, 7, generator=generator, dtype=dtype).mul(-3)
        order, eps = _native_pass(loaded, keys, f, log_s.exp(), n_terms)
        if not (torch.equal(order, expected)
                and torch.equal(eps, _echo_tree_forward(f, log_s, expected, keep=False)[0])):
            return f"the noise in one pass, {n_rows} rows of {n_terms} terms, {dtype}"
    return ""


def _echo_sum_gather(f, log_s, order):
    """The direct Echo sum: gather the ``(B, K, d)`` terms, exclusive cumulative sum of
    ``log S``, exponentiate, weight and sum; differentiated by autograd.

    The reference for :func:`echo_sum` (same values up to float rounding, same gradients) and
    its baseline in ``benchmarks/bench_echo_noise.py``; it materialises several ``(B, K, d)``
    tensors forward and backward.
    """
    n_rows, n_terms = order.shape
    # index_select, not f[order]: its backward (index_add_) accumulates in a fixed order on
    # the CPU, whereas advanced indexing's multi-threaded backward does not.
    flat = order.reshape(-1)
    f_terms = f.index_select(0, flat).reshape(n_rows, n_terms, -1)  # (B, K, d)
    log_s_terms = log_s.index_select(0, flat).reshape(n_rows, n_terms, -1)
    # Exclusive cumulative sum: the weight of term k is the product of the EARLIER scales only.
    log_weights = torch.cumsum(log_s_terms, dim=1) - log_s_terms
    return (torch.exp(log_weights) * f_terms).sum(dim=1)


# The pairwise reduction of the Echo sum.
#
# Term k of row i is the affine map a_k(e) = f_k + s_k e (f_k = f(x(k)), s_k = S(x(k))), and
# eps_i = a_1(a_2(...a_K(0))). Maps compose as (F, S) o (F', S') = (F + S F', S S'), so one
# level of a tree halves the number of terms of every row with two vectorised ops on
# (K/2, B, d) slabs: F = F_L + S_L F_R, S = S_L S_R (an odd last term is carried up). The
# root's F is eps. Backward, with g = dL/deps, every node of the tree has
#   W = g * (product of the scales of all terms before the node's span)   (dL/dF of the node)
#   T = g * (sum over the terms after the span of their weighted f)       (dL/dlog S of the node)
# and from the root (W = g, T = 0) down: W_L = W, W_R = W S_L, T_R = T, T_L = T + W_R F_R. At the
# leaves W = dL/df_k and T = dL/dlog s_k of each term, which are then summed into their rows.
# Only S_L and F_R of every level are needed backward.
#
# Each level is laid out [left children | right children | carried term] along the first axis,
# so that every op reads and writes contiguous slabs: leaf slot x holds the term at sequence
# position _tree_index(K, "term_of_slot")[x]; _tree_index(K, "slot_of_term") is the inverse.

#: Elements gathered at once when the gradient is summed into its rows (bounds the memory).
_GATHER_CHUNK = 1 << 22


def _leaf_slots(n_terms):
    """Leaf slot of each sequence position (a tuple of length K), without a cache (so that
    torch.compile can trace it as plain Python)."""
    slots = (0,)
    for n in reversed(_level_sizes(n_terms)[:-1]):  # from the root's children to the leaves
        half, parent = n // 2, slots
        slots = [0] * n
        for q in range(half):
            slots[2 * q] = parent[q]
            slots[2 * q + 1] = half + parent[q]
        if n % 2:
            slots[-1] = 2 * half
        slots = tuple(slots)
    return slots


_tree_positions = functools.lru_cache(maxsize=None)(_leaf_slots)


@functools.lru_cache(maxsize=None)
def _tree_index(n_terms, kind, device):
    """Index tensors of the leaf layout, by ``kind``: "slot_of_term" (sequence position ->
    leaf slot), "term_of_slot" (its inverse), and "grad_slot_of_term" / "term_of_grad_slot"
    for the backward's dL/df buffer, where the left and carried leaves' W is their parents' W
    itself (see _EchoSum.backward)."""
    slot_of_term = _tree_positions(n_terms)
    if "grad" in kind:
        half, rest = n_terms // 2, n_terms - n_terms // 2

        def grad_slot(slot):
            if slot < half:
                return slot
            return rest + slot - half if slot < 2 * half else half

        slot_of_term = [grad_slot(slot) for slot in slot_of_term]
    values = slot_of_term if kind.endswith("of_term") else _inverse(slot_of_term)
    return torch.tensor(values, dtype=torch.long, device=device)


def _inverse(permutation):
    """The inverse of a permutation of ``range(n)`` given as a sequence (a list)."""
    inverse = [0] * len(permutation)
    for position, value in enumerate(permutation):
        inverse[value] = position
    return inverse


def _level_sizes(n_terms):
    sizes = [n_terms]
    while sizes[-1] > 1:
        sizes.append(sizes[-1] - sizes[-1] // 2)
    return sizes


def _echo_tree_forward(f, log_s, order, keep):
    """The Echo sum by pairwise reduction; with ``keep``, also the ``S_L, F_R`` of every level."""
    n_rows, n_terms = order.shape
    n_source, n_dims = f.shape
    slots = _tree_index(n_terms, "term_of_slot", order.device)
    flat = order.t().index_select(0, slots).reshape(-1)  # leaf slot-major: (K * B,)
    table = torch.cat([f, log_s.exp()])  # rows of f, then rows of S
    if n_terms == 1:
        return table.index_select(0, flat), []
    half, rest = n_terms // 2, n_terms - n_terms // 2
    left, right = flat[:half * n_rows], flat[half * n_rows:2 * half * n_rows]
    # Two gathers, so that what backward keeps (S_L, F_R) does not hold the rest alive.
    kept = table.index_select(0, torch.cat([left + n_source, right]))
    S_L, F_R = kept.view(2, half, n_rows, n_dims).unbind(0)
    if n_terms % 2:
        carried = flat[2 * half * n_rows:]
        rest_index = torch.cat([left, right + n_source, carried, carried + n_source])
    else:
        rest_index = torch.cat([left, right + n_source])
    other = table.index_select(0, rest_index)
    F_L, S_R = other[:2 * half * n_rows].view(2, half, n_rows, n_dims).unbind(0)
    F = f.new_empty(rest, n_rows, n_dims)
    torch.addcmul(F_L, S_L, F_R, out=F[:half])
    saved = [S_L, F_R] if keep else []
    if rest > 1:
        S = f.new_empty(rest, n_rows, n_dims)
        torch.mul(S_L, S_R, out=S[:half])
        if n_terms % 2:
            F[half], S[half] = other[2 * half * n_rows:].view(2, n_rows, n_dims).unbind(0)
    del other, F_L, S_R
    while len(F) > 1:
        n = len(F)
        half, rest = n // 2, n - n // 2
        F_next = F.new_empty(rest, n_rows, n_dims)
        torch.addcmul(F[:half], S[:half], F[half:2 * half], out=F_next[:half])
        if keep:
            saved += [S[:half], F[half:2 * half]]
        if rest > 1:  # the root's S is never needed
            S_next = S.new_empty(rest, n_rows, n_dims)
            torch.mul(S[:half], S[half:2 * half], out=S_next[:half])
            if n % 2:
                F_next[half] = F[-1]
                S_next[half] = S[-1]
            S = S_next
        F = F_next
    return F[0], saved


class _EchoSum(torch.autograd.Function):
    """Forward and backward of :func:`echo_sum` by pairwise reduction (see the notes above)."""

    @staticmethod
    def forward(ctx, f, log_s, order, distinct):
        eps, saved = _echo_tree_forward(f, log_s, order, keep=True)
        ctx.save_for_backward(order, *saved)
        ctx.distinct = distinct
        ctx.n_source = f.shape[0]
        return eps

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        order, *saved = ctx.saved_tensors
        n_rows, n_terms = order.shape
        n_source, n_dims = ctx.n_source, grad.shape[1]
        n_leaves = n_terms * n_rows
        half, rest = n_terms // 2, n_terms - n_terms // 2
        # The leaves' dL/df (part 0) and dL/dlog s (part 1), each followed by a zero row for
        # absent terms. The left and carried leaves share their parents' W, the right leaves
        # their parents' T, so the parents' W and T are written straight into this buffer:
        # part 0 = [parents' W | W of the right leaves], part 1 = [T of the left leaves |
        # parents' T], and the leaf level needs no copies.
        leaf = grad.new_empty(2, n_leaves + 1, n_dims)
        leaf[:, n_leaves] = 0
        parents_W = leaf[0, :rest * n_rows].view(rest, n_rows, n_dims)
        right_W = leaf[0, rest * n_rows:n_leaves].view(half, n_rows, n_dims)
        left_T = leaf[1, :half * n_rows].view(half, n_rows, n_dims)
        parents_T = leaf[1, half * n_rows:n_leaves].view(rest, n_rows, n_dims)
        sizes = _level_sizes(n_terms)
        W, T = grad.unsqueeze(0), None  # the root; T = 0
        for level in range(len(sizes) - 2, 0, -1):
            n = sizes[level]
            h = n // 2
            S_L, F_R = saved[2 * level], saved[2 * level + 1]
            if level == 1:
                W_next, T_next = parents_W, parents_T
            else:
                W_next = grad.new_empty(n, n_rows, n_dims)
                T_next = grad.new_empty(n, n_rows, n_dims)
            W_next[:h] = W[:h]
            torch.mul(W[:h], S_L, out=W_next[h:2 * h])
            if T is None:
                T_next[h:2 * h] = 0
                torch.mul(W_next[h:2 * h], F_R, out=T_next[:h])
            else:
                T_next[h:2 * h] = T[:h]
                torch.addcmul(T[:h], W_next[h:2 * h], F_R, out=T_next[:h])
            if n % 2:
                W_next[-1] = W[-1]
                T_next[-1] = 0 if T is None else T[-1]
            W, T = W_next, T_next
        if len(sizes) <= 2:  # the leaves are the root (K = 1) or its children
            parents_W.copy_(W)
            parents_T.zero_()
        if n_terms > 1:
            S_L, F_R = saved[0], saved[1]
            torch.mul(parents_W[:half], S_L, out=right_W)
            torch.addcmul(parents_T[:half], right_W, F_R, out=left_T)
        if ctx.distinct and order.device.type != "cpu":
            grads = _leaves_to_rows_by_gather(leaf, order, n_source)
        else:
            grads = _leaves_to_rows_by_accumulation(leaf, order, n_source)
        return grads[0], grads[1], None, None


# The backward's leaf buffer (see _EchoSum.backward) holds the leaves' dL/df (part 0, in the
# "grad_slot" layout) and dL/dlog s (part 1, in the leaf layout), row slot * B + i for the term
# of output row i, each part followed by a zero row; both functions below sum every leaf into
# its source row and return (2, N, d).
_LEAF_PARTS = (("grad_slot_of_term", "term_of_grad_slot"), ("slot_of_term", "term_of_slot"))


def _leaves_to_rows_by_accumulation(leaf, order, n_source):
    """``index_add_`` of every leaf into its source row; rows may repeat within a sequence.
    On the CPU the leaves are added output row by output row, within a row by leaf slot (the
    native kernel's order, which adds a row's leaves as soon as its tree is done; the leaves
    are copied into that order first), and index_add_ runs serially in that order
    (deterministic at any thread count); on CUDA it uses atomics unless deterministic
    algorithms are requested, so the leaves are taken as they lie, slot by slot."""
    n_rows, n_terms = order.shape
    n_leaves, n_dims = n_rows * n_terms, leaf.shape[-1]
    grads = leaf.new_zeros(2, n_source, n_dims)
    for part, (_, kind) in enumerate(_LEAF_PARTS):
        terms = _tree_index(n_terms, kind, order.device)
        leaves = leaf[part, :n_leaves]
        if order.device.type == "cpu":  # the native kernel's order: a copy of the leaves
            source_rows = order.index_select(1, terms).reshape(-1)  # (B, K): row-major
            leaves = leaves.view(n_terms, n_rows, n_dims).transpose(0, 1).reshape(-1, n_dims)
        else:  # atomics: no order to keep, so no copy
            source_rows = order.t().index_select(0, terms).reshape(-1)
        grads[part].index_add_(0, source_rows, leaves)
    return grads


def _leaves_to_rows_by_gather(leaf, order, n_source):
    """For sequences without repeats: each source row's gradient pulled from its leaves by a
    gather (:func:`_pull_map`, :func:`_gather_rows`), in chunks of bounded size. No atomics:
    deterministic on every device."""
    return torch.stack([
        _gather_rows(leaf[part], _pull_map(order, _tree_index(order.shape[1], kind, order.device),
                                           n_source))
        for part, (kind, _) in enumerate(_LEAF_PARTS)
    ])


def _pull_map(order, slot_of_term, n_source):
    """``(n_source, B)``: the leaf (``slot * B + i``) of source row ``m`` in output row ``i``'s
    sequence, ``B * K`` (a zero row after the leaves) where the sequence leaves ``m`` out.
    ``slot_of_term`` is the leaf slot of each sequence position (a ``(K,)`` tensor)."""
    n_rows, n_terms = order.shape
    rows = torch.arange(n_rows, device=order.device).unsqueeze(1)
    where = order.new_full((n_rows, n_source), n_terms * n_rows)
    return where.scatter(1, order, slot_of_term.unsqueeze(0) * n_rows + rows).t()


def _gather_rows(padded, pull):
    """Row ``m`` of the result sums ``padded[pull[m, i]]`` over ``i`` (``padded``: the leaves
    then a zero row), in chunks of rows that gather at most ``_GATHER_CHUNK`` elements."""
    chunk = max(1, _GATHER_CHUNK // (pull.shape[1] * padded.shape[1]))
    return torch.cat([
        padded.index_select(0, part.reshape(-1)).view(*part.shape, padded.shape[1]).sum(1)
        for part in pull.split(chunk)
    ])


# The compiled path. Traced by torch.compile, the Echo sum is the same pairwise reduction
# written with plain ops, which AOTAutograd differentiates and inductor fuses into a few loops
# (the eager kernel above is hand-scheduled for one op at a time). Only the gathers of the
# leaves get a hand-written backward: autograd's (index_add) compiles to atomic adds when the
# kernel runs on more than one thread, whose order, and so whose rounding, varies from run to
# run (measured: 30 repeats of one compiled step on two threads gave gradients differing by
# up to 5e-7). The rows' gradients are summed eagerly behind a custom op that inductor leaves
# alone: on the CPU by index_add_ (serial, fixed order), on other devices by pulling each
# row's gradient from its leaves with a gather, in chunks of bounded size (no atomics).


def _sum_leaves_into_rows(leaves: torch.Tensor, index: torch.Tensor,
                          pull: Optional[torch.Tensor], n_rows: int) -> torch.Tensor:
    """``(n_rows, w)``: row ``m`` sums the rows of ``leaves`` whose ``index`` is ``m``. With
    ``pull`` (the ``(n_rows, B)`` map of each row's leaf per output row, ``len(leaves)`` where
    absent), by chunked gathers; otherwise by ``index_add_``. Both in a fixed order."""
    if pull is None:
        return leaves.new_zeros(n_rows, leaves.shape[1]).index_add_(0, index, leaves)
    return _gather_rows(torch.cat([leaves, leaves.new_zeros(1, leaves.shape[1])]), pull)


if hasattr(torch.library, "custom_op"):  # torch >= 2.4
    _sum_leaves_into_rows = torch.library.custom_op(
        "skecho::sum_leaves_into_rows", _sum_leaves_into_rows, mutates_args=())

    @_sum_leaves_into_rows.register_fake
    def _(leaves, index, pull, n_rows):
        return leaves.new_empty(n_rows, leaves.shape[1])

    _COMPILABLE = True
else:
    _COMPILABLE = False


class _GatherLeaves(torch.autograd.Function):
    """``table.index_select(0, index)`` whose backward sums the leaves' gradients into their
    rows with :func:`_sum_leaves_into_rows` (``pull`` as there; see the notes above)."""

    @staticmethod
    def forward(ctx, table, index, pull):
        ctx.save_for_backward(index, pull)
        ctx.n_source = table.shape[0]
        return table.index_select(0, index)

    @staticmethod
    def backward(ctx, grad):
        index, pull = ctx.saved_tensors
        return _sum_leaves_into_rows(grad, index, pull, ctx.n_source), None, None


def _echo_tree_traceable(f, log_s, order, pull_gradients=None):
    """:func:`echo_sum` over distinct rows per sequence, as plain traceable ops (the compiled
    step's kernel; the same pairwise reduction as ``_EchoSum``, equal to float rounding). It
    runs eagerly too. ``pull_gradients``: sum the rows' gradients by chunked gathers (the
    default off the CPU) rather than by index_add_ (the default on it)."""
    n_rows, n_terms = order.shape
    n_source, n_dims = f.shape
    slot_of_term = _leaf_slots(n_terms)
    device = order.device
    term_of_slot = torch.tensor(_inverse(slot_of_term), device=device)
    flat = order.t().index_select(0, term_of_slot).reshape(-1)
    pull = None
    if device.type != "cpu" if pull_gradients is None else pull_gradients:
        pull = _pull_map(order, torch.tensor(slot_of_term, device=device), n_source)
    table = torch.cat([f, log_s.exp()], dim=1)
    leaves = _GatherLeaves.apply(table, flat, pull).view(n_terms, n_rows, 2 * n_dims)
    F, S = leaves[..., :n_dims], leaves[..., n_dims:]
    while F.shape[0] > 1:
        n = F.shape[0]
        half = n // 2
        F_next = F[:half] + S[:half] * F[half:2 * half]
        S_next = S[:half] * S[half:2 * half]
        if n % 2:
            F_next = torch.cat([F_next, F[-1:]])
            S_next = torch.cat([S_next, S[-1:]])
        F, S = F_next, S_next
    return F[0]
