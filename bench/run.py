"""Run the benchmark suite: each section in its own process, results to bench/results/*.json, docs/benchmarks.md.

    python -m bench                 # the full suite (about 20-30 minutes on 2 cores)
    python bench/run.py --full      # the same
    python bench/run.py --smoke     # tiny sizes, no peers, no model: under a minute (CI runs it)
    python bench/run.py --only scale,onnx

Sections: bbc (index build vs raw encoder on BBC News), scale (vector index 10^3..10^6),
peers (txtai and Haystack on the demo corpus), onnx (int8 encoder), public_qa (held-out public QA
sets: answers per question type, the reader alone, txtai, multi-turn CoQA; skipped without ../shared/qa-train;
`python -m bench.public_qa ... --previous PATH` adds an older checkout). scale and onnx reuse
what bbc leaves in the work directory, so run bbc first (the default order does).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DOCS_FILE, FULL, RESULTS_DIR, SMOKE, machine_info, run_module, say, write_result  # noqa: E402

SECTIONS = {"bbc": "bench.bbc", "scale": "bench.scale", "peers": "bench.peers", "onnx": "bench.onnx_encoder",
            "public_qa": "bench.public_qa", "speed": "bench.speed"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--full", dest="mode", action="store_const", const=FULL, help="the whole suite (default)")
    modes.add_argument("--smoke", dest="mode", action="store_const", const=SMOKE, help="tiny sizes, no peers, under a minute")
    parser.add_argument("--only", help=f"comma-separated sections among {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory (default bench/results)")
    parser.add_argument("--docs", type=Path, default=DOCS_FILE, help="report to write (default docs/benchmarks.md)")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temporary one, removed afterwards)")
    args = parser.parse_args(argv)
    mode = args.mode or FULL
    chosen = [s.strip() for s in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}: choose among {', '.join(SECTIONS)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="qa-news-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    info = machine_info()
    timings, failures = {}, []
    try:
        for name in chosen:
            say(f"section {name} ({mode})")
            section_started = time.perf_counter()
            completed = run_module(SECTIONS[name], ["--mode", mode, "--out", str(args.out), "--work", str(work)])
            timings[name] = round(time.perf_counter() - section_started, 1)
            if completed.returncode != 0:
                failures.append(name)
                say(f"section {name} failed with exit code {completed.returncode}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_result(args.out, "run", {
        "mode": mode, "command": command.strip(), "sections": chosen, "section_seconds": timings,
        "total_seconds": round(time.perf_counter() - started, 1), "failed": failures, "machine": info,
    })
    from bench.report import render

    written = render(args.out, args.docs)
    say(f"wrote {', '.join(str(p) for p in written)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
