"""Speed: the one training engine and what it runs on.

- :mod:`~softmaxlab.fast.engine` — ``Engine``, the step every entry point trains with
  (native kernel or torch), with momentum, penalties and the data-parallel hook;
- :mod:`~softmaxlab.fast.sparse` — ``SparseEngine``, the same interface on CSR rows, and
  :func:`~softmaxlab.fast.sparse.make_engine`, the factory that picks between them;
- :mod:`~softmaxlab.fast.native` — the C kernels (``_softmax_grad.c``, ``_sparse.c``);
- :mod:`~softmaxlab.fast.comm` — ``Comm``: the reductions that make one engine a rank;
- :mod:`~softmaxlab.fast.threads` — thread budgets for BLAS and torch.

The benchmark harness is :mod:`softmaxlab.bench`.
"""
