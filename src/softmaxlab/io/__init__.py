"""Files: model files, checkpoints, sharded reads and crash-safe writes.

- :mod:`~softmaxlab.io.persistence` — ``save_model`` / ``load_model`` (safetensors);
- :mod:`~softmaxlab.io.checkpoint` — training checkpoints and resuming;
- :mod:`~softmaxlab.io.shards` — which rows each rank owns, and reading only those;
- :mod:`~softmaxlab.io.atomic` — writes that leave the old file or the new one, never half.
"""
