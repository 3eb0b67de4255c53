"""Benchmark the traffic-graph engine on synthetic clusters (bench/generate.py).

    python bench/run.py                       # sizes 100 500 1000 2000 5000
    python bench/run.py --sizes 2000 --keep   # keep the generated manifests

Each size runs in its own process so peak RSS is that run's.  Reported phases:
load (YAML with positions), model, engine (policy parsing + identities + selector
index), graph (all allowed edges), json (the graph contract), total, and the peak
resident set size.  Target (issue #3): 2,000 workloads + 2,000 policies in <= 2 s
and <= 500 MB on a 2-core machine for engine + graph.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def run_one(directory: Path) -> dict:
    import gc

    from scanner.loader.documents import load
    from scanner.model.build import build_model
    from scanner.network import actors_from_policy, build_traffic
    from scanner.network.graph import graph_to_json
    from scanner.policy import load_policy

    t0 = time.perf_counter()
    inputs = load([directory], directory)
    policy = load_policy(directory / "kubematrix.yaml", directory)
    t1 = time.perf_counter()
    model = build_model(inputs.objects)
    # As the CLI does: the parsed manifests are long-lived, keep the cyclic GC off them.
    gc.freeze()
    gc.disable()
    c2 = time.process_time()
    t2 = time.perf_counter()
    traffic = build_traffic(
        model, inputs.objects, policy.settings.cilium, actors_from_policy(policy.section("traffic"))
    )
    t3 = time.perf_counter()
    g = traffic.graph
    t4 = time.perf_counter()
    c4 = time.process_time()
    text = json.dumps(graph_to_json(g))
    t5 = time.perf_counter()
    policies = sum(
        1
        for o in inputs.objects
        if o.kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "NetworkPolicy")
    )
    return {
        "workloads": len(model.workloads),
        "policies": policies,
        "classes": len(traffic.classes),
        "edges": g.number_of_edges(),
        "json_mb": round(len(text) / 1e6, 1),
        "load_s": round(t1 - t0, 3),
        "model_s": round(t2 - t1, 3),
        "engine_s": round(t3 - t2, 3),
        "graph_s": round(t4 - t3, 3),
        "json_s": round(t5 - t4, 3),
        "engine_graph_s": round(t4 - t2, 3),
        "engine_graph_cpu_s": round(c4 - c2, 3),
        "total_s": round(t5 - t0, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,500,1000,2000,5000")
    ap.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true", help="keep generated manifests (printed paths)")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0
    from generate import write

    rows = []
    for n in [int(x) for x in args.sizes.split(",") if x]:
        tmp = Path(tempfile.mkdtemp(prefix=f"kubematrix-bench-{n}-"))
        write(n, tmp)
        out = subprocess.run([sys.executable, __file__, "--one", str(tmp)], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        if args.keep:
            print(f"# {n}: {tmp}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    cols = [
        "workloads",
        "policies",
        "classes",
        "edges",
        "load_s",
        "model_s",
        "engine_s",
        "graph_s",
        "json_s",
        "engine_graph_s",
        "engine_graph_cpu_s",
        "total_s",
        "peak_rss_mb",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
