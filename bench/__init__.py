"""resocket benchmarks (`make bench`, `python bench/run.py [--smoke]`). Never timed assertions."""
