"""Speed: the one training engine and what it runs on.

- :mod:`~softmaxlab.fast.engine` — ``Engine``, the step every entry point trains with
  (native kernel or torch), with momentum, penalties and the data-parallel hook;
- :mod:`~softmaxlab.fast.native` — the C kernel (``_softmax_grad.c``), built on first use;
- :mod:`~softmaxlab.fast.comm` — ``Comm``: the reductions that make one engine a rank;
- :mod:`~softmaxlab.fast.threads` — thread budgets for BLAS and torch;
- :mod:`~softmaxlab.fast.fitcost` — the cost model behind batch and path choices;
- :mod:`~softmaxlab.fast.suite` — ``softmaxlab bench``, running the sections of
  :mod:`~softmaxlab.fast.bench` (epoch times), :mod:`~softmaxlab.fast.growth` (batch and
  row growth), :mod:`~softmaxlab.fast.fitcost` (entry points) and
  :mod:`~softmaxlab.fast.race` (defaults against scikit-learn).
"""
