"""A whole scan against the YAML parse floor, checkov and itself, in one run.

    python bench/scale.py                           # 100, 1,000, 3,000 and 10,000 documents
    python bench/scale.py --docs 10000 --repeat 5   # one size
    python bench/scale.py --policy per-copy         # each copy keeps its policy file

Trees are copies of the bundled example (fixtures/blog-system), each in its own
namespace ``blog-NNN`` so the copies are independent; a copy holds about 20 documents.
``--policy none`` (default) drops the copies' policy files (generic rules only);
``per-copy`` keeps each (one governed scope per copy, every matrix checked); ``both``
measures both.  For each size and mode, every command runs ``--repeat`` times
(median reported), interleaved, each in its own process (wall time, CPU and peak RSS
from os.wait4):

* ``parse``: the floor — ``yaml.load_all(f, Loader=yaml.CSafeLoader)`` over every file;
* ``scan``: ``kubematrix scan DIR --format json --fail-on never``;
* ``checkov``: ``checkov -d DIR --framework kubernetes`` when installed (see
  bench/README.md), fewer repetitions (``--checkov-repeat``) because it is slow.

Also measured: ``kubematrix --help`` (start-up) and the traffic graph of 5,000
workloads and 5,000 policies (bench/generate.py, as bench/run.py builds it).
Targets (issue #10): scan <= 1.5x the parse at 10,000 documents, >= 10x faster than
checkov, graph <= 3 s, peak RSS <= 500 MB, --help <= 0.15 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from compare_peers import Run, kubematrix_argv, locate, measure  # noqa: E402

EXAMPLE = REPO / "fixtures" / "blog-system"
PARSE = r"""
import sys, yaml
from pathlib import Path
n = 0
for p in sorted(Path(sys.argv[1]).rglob("*")):
    if p.suffix in (".yaml", ".yml", ".json") and p.is_file():
        with open(p, encoding="utf-8") as f:
            n += sum(1 for _ in yaml.load_all(f, Loader=yaml.CSafeLoader))
print(n)
"""


def documents_per_copy() -> int:
    import yaml

    n = 0
    for p in EXAMPLE.rglob("*"):
        if p.suffix in (".yaml", ".yml", ".json") and p.is_file() and p.name != "kubematrix.yaml":
            n += sum(1 for _ in yaml.load_all(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
    return n


def build_tree(root: Path, copies: int, keep_policy: bool) -> Path:
    for i in range(copies):
        dst = root / f"copy{i:04d}"
        for src in sorted(EXAMPLE.rglob("*")):
            if not src.is_file() or (src.name == "kubematrix.yaml" and not keep_policy):
                continue
            target = dst / src.relative_to(EXAMPLE)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(src.read_text(encoding="utf-8").replace("blog-system", f"blog-{i:04d}"), encoding="utf-8")
    return root


def median(runs: list[Run], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def timed(label: str, argv: list[str], repeat: int, work: Path, timeout: float) -> list[Run]:
    runs = []
    for i in range(repeat):
        r = measure(argv, work / f"{label}.out", work / f"{label}.err", timeout)
        if r.rc not in (0, 1):
            tail = (work / f"{label}.err").read_text(errors="replace").strip().splitlines()[-3:]
            raise SystemExit(f"{label} failed (exit {r.rc}): {' / '.join(tail)}")
        runs.append(r)
        print(f"    {label} #{i + 1}: {r.wall_s:.2f} s wall, {r.cpu_s:.2f} s CPU, {r.rss_mb:.0f} MB", file=sys.stderr)
    return runs


def one_size(docs: int, mode: str, args, km: list[str], checkov: str | None, work: Path) -> dict:
    per = documents_per_copy()
    copies = max(1, round(docs / per))
    tree = build_tree(Path(tempfile.mkdtemp(prefix=f"km-scale-{docs}-", dir=work)), copies, mode == "per-copy")
    files = sum(1 for p in tree.rglob("*") if p.is_file())
    print(f"  {docs} documents ({copies} copies, {files} files), policy: {mode}", file=sys.stderr)
    parse = [sys.executable, "-c", PARSE, str(tree)]
    scan = km + ["scan", str(tree), "--format", "json", "--fail-on", "never"]
    runs: dict[str, list[Run]] = {"parse": [], "scan": []}
    for _ in range(args.repeat):  # interleaved, so drift in machine load hits both
        runs["parse"] += timed("parse", parse, 1, work, args.timeout)
        runs["scan"] += timed("scan", scan, 1, work, args.timeout)
    row = {
        "docs": copies * per,
        "files": files,
        "policy": mode,
        "parse_s": median(runs["parse"], "wall_s"),
        "scan_s": median(runs["scan"], "wall_s"),
        "scan_cpu_s": median(runs["scan"], "cpu_s"),
        "scan_rss_mb": max(r.rss_mb for r in runs["scan"]),
    }
    row["scan/parse"] = row["scan_s"] / row["parse_s"]
    if checkov and mode == "none" and docs <= args.checkov_max:
        ck = timed(
            "checkov",
            [
                checkov,
                "-d",
                str(tree),
                "--framework",
                "kubernetes",
                "--quiet",
                "--compact",
                "-o",
                "json",
                "--skip-download",
            ],
            args.checkov_repeat,
            work,
            args.timeout * 20,
        )
        row["checkov_s"] = median(ck, "wall_s")
        row["checkov/scan"] = row["checkov_s"] / row["scan_s"]
    shutil.rmtree(tree, ignore_errors=True)
    return row


def graph_5000(work: Path, repeat: int) -> float:
    from generate import write

    tree = Path(tempfile.mkdtemp(prefix="km-graph-", dir=work))
    write(5000, tree)
    out = []
    for _ in range(repeat):
        r = measure(
            [sys.executable, str(HERE / "run.py"), "--one", str(tree)], work / "graph.out", work / "graph.err", 600
        )
        if r.rc != 0:
            raise SystemExit(f"graph of 5,000 workloads failed (exit {r.rc}); see {work / 'graph.err'}")
        out.append(json.loads((work / "graph.out").read_text().strip().splitlines()[-1])["engine_graph_s"])
    shutil.rmtree(tree, ignore_errors=True)
    return statistics.median(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", default="100,1000,3000,10000", help="comma-separated sizes in documents")
    ap.add_argument("--policy", choices=("none", "per-copy", "both"), default="both")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--checkov", help="checkov executable (default: PATH, then /work/peer-checkov/bin/checkov)")
    ap.add_argument("--checkov-repeat", type=int, default=1)
    ap.add_argument("--checkov-max", type=int, default=10000, help="largest size to run checkov on")
    ap.add_argument("--no-graph", action="store_true", help="skip the 5,000 x 5,000 graph")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    km = kubematrix_argv(None)
    checkov, why = locate(args.checkov, "KUBEMATRIX_BENCH_CHECKOV", "checkov", "/work/peer-checkov/bin/checkov")
    if checkov is None:
        print(f"# checkov: {why} — comparison skipped", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="km-scale-"))
    rows = []
    try:
        modes = ("none", "per-copy") if args.policy == "both" else (args.policy,)
        for docs in [int(x) for x in args.docs.split(",") if x]:
            for mode in modes:
                rows.append(one_size(docs, mode, args, km, checkov, work))
        help_runs = timed("help", km + ["--help"], max(5, args.repeat), work, 60)
        graph = None if args.no_graph else graph_5000(work, 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cols = [
        "docs",
        "files",
        "policy",
        "parse_s",
        "scan_s",
        "scan/parse",
        "scan_cpu_s",
        "scan_rss_mb",
        "checkov_s",
        "checkov/scan",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print(
            "| " + " | ".join(f"{r[c]:.2f}" if isinstance(r.get(c), float) else str(r.get(c, "-")) for c in cols) + " |"
        )
    print(f"\n`kubematrix --help`: {median(help_runs, 'wall_s'):.3f} s (median of {len(help_runs)})")
    if graph is not None:
        print(f"graph of 5,000 workloads x 5,000 policies (engine + graph, median of 3): {graph:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
