"""Files: tables, sparse files, checkpoints, sharded reads and crash-safe writes (model
files, which build estimators, are one layer up in :mod:`softmaxlab.persistence`).

- :mod:`~softmaxlab.io.checkpoint` — training checkpoints and resuming;
- :mod:`~softmaxlab.io.shards` — which rows each rank owns, and reading only those;
- :mod:`~softmaxlab.io.atomic` — writes that leave the old file or the new one, never half.
"""
