"""The engine: keyed random streams, the parallel block runner, per-path metrics, reductions and run limits."""
