"""What people look at: figures and the ``compare`` report.

- :mod:`~softmaxlab.reporting.plots` — learning curves, parity bars, Jacobians, regions;
- :mod:`~softmaxlab.reporting.report` — ``compare --report DIR`` (Markdown, HTML, PNGs).
"""
