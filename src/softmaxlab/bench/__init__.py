"""The benchmark harness behind ``softmaxlab bench`` (never imported by the library).

- :mod:`~softmaxlab.bench.suite` — ``run_sections``: the sections ``softmaxlab bench`` runs;
- :mod:`~softmaxlab.bench.bench` — epoch times of the engine against the PyTorch loop and
  the GEMM/BLAS floors;
- :mod:`~softmaxlab.bench.growth` — how the epoch grows with batch size and rows;
- :mod:`~softmaxlab.bench.fitcost` — what each entry point costs beyond its epochs;
- :mod:`~softmaxlab.bench.race` — the defaults against scikit-learn;
- :mod:`~softmaxlab.bench.textbench` — the text pipeline against scikit-learn.
"""
