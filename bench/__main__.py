"""`python -m bench`: the full benchmark suite (see bench/run.py for options)."""

from bench.run import main

raise SystemExit(main())
