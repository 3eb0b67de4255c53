"""Scale benchmark for hostile trees: many good documents plus many broken files.

    python bench/hostile_scale.py                      # 10,000 documents, 1,000 broken files
    python bench/hostile_scale.py --docs 2000 --broken 200
    python bench/hostile_scale.py --loader-only        # loader throughput, CSafeLoader vs SafeLoader

Each run generates a tree in a temporary directory, scans it in a *fresh
subprocess* (so peak RSS is the scan's own), and prints one JSON line with the
wall time, peak RSS (``resource.getrusage``), the number of INPUT001 findings
and whether every broken file was reported.  ``tests/hostile/test_scale.py``
runs the same generator at a smaller size; this script is the full-size run.
Not a timed test: numbers go in the hardening note.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_WORKLOAD = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{ns}
  labels: {{app: app-{i}, tier: "{tier}"}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}, tier: "{tier}"}}
    spec:
      serviceAccountName: app-{i}
      securityContext:
        runAsNonRoot: true
        runAsUser: {uid}
        fsGroup: {uid}
        seccompProfile: {{type: RuntimeDefault}}
      containers:
      - name: app
        image: registry.example/app-{i}:1.{i}
        ports:
        - {{name: http, containerPort: 8080, protocol: TCP}}
        env:
        - {{name: MODE, value: production}}
        - name: DB_PASSWORD
          valueFrom: {{secretKeyRef: {{name: db-{ns}, key: password}}}}
        resources:
          limits: {{cpu: 500m, memory: 256Mi}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {{drop: [ALL]}}
"""

_SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: app-{i}
  namespace: team-{ns}
spec:
  selector: {{app: app-{i}}}
  ports:
  - {{name: http, port: 80, targetPort: http, protocol: TCP}}
"""

_CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: app-{i}
  namespace: team-{ns}
data:
  settings.yaml: |
    level: info
    retries: 3
  feature: "on"
"""

# Each broken file yields exactly one INPUT001 finding.
_BROKEN = (
    ("tab.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: tab-{i}\n"),
    ("quote.yaml", 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "quote-{i}\n'),
    ("indent.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: indent-{i}\n   namespace: x\n"),
    ("comma.json", '{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "comma-{i}",}},}}\n'),
    ("helm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Values.name }}}}-{i}\n"),
    ("binary.yaml", None),
    ("latin1.yaml", None),
    ("bomb.yaml", None),
)


def _bomb(i: int) -> str:
    lines = [f'l0: &l0 ["x{i}","x","x","x","x","x","x","x","x"]']
    for level in range(1, 9):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def generate(root: Path, docs: int, broken: int, *, seed: int = 7, docs_per_file: int = 5) -> dict:
    """Write the tree; return what a correct scan must report."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    makers = (_WORKLOAD, _SERVICE, _CONFIGMAP)
    written = 0
    files = 0
    while written < docs:
        ns = files % 40
        folder = root / f"team-{ns:02d}"
        folder.mkdir(exist_ok=True)
        count = min(docs_per_file, docs - written)
        body = "---\n".join(
            makers[(written + k) % 3].format(
                i=written + k, ns=ns, tier=rng.choice("abc"), uid=10000 + (written + k) % 500
            )
            for k in range(count)
        )
        (folder / f"bundle-{files:05d}.yaml").write_text(body, encoding="utf-8")
        written += count
        files += 1
    broken_paths = []
    bad = root / "broken"
    bad.mkdir(exist_ok=True)
    for i in range(broken):
        name, template = _BROKEN[i % len(_BROKEN)]
        path = bad / f"{i:05d}-{name}"
        if name == "binary.yaml":
            path.write_bytes(b"apiVersion: v1\n\x00\x01\x02" + os.urandom(64))
        elif name == "latin1.yaml":
            path.write_bytes(
                f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: l-{i}\ndata:\n  city: M\xfcnchen\n".encode(
                    "latin-1"
                )
            )
        elif name == "bomb.yaml":
            path.write_text(_bomb(i), encoding="utf-8")
        else:
            path.write_text(template.format(i=i), encoding="utf-8")
        broken_paths.append(path.relative_to(root).as_posix())
    return {"documents": docs, "good_files": files, "broken_files": sorted(broken_paths)}


_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from scanner.scan import ScanOptions, run_scan
root = Path(sys.argv[1])
started = time.perf_counter()
result = run_scan(ScanOptions(paths=(root,), cwd=root))
elapsed = time.perf_counter() - started
from scanner.report import render
rendered = {fmt: len(render(result, fmt)) for fmt in ("json", "sarif")}
rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
input001 = sorted({f.loc.path for f in result.findings if f.rule_id == "INPUT001"})
print(json.dumps({"seconds": round(elapsed, 2), "peak_rss_mb": round(rss_kb / 1024, 1), "files": len(result.files),
                  "findings": len(result.findings), "input001_files": input001,
                  "input001": sum(1 for f in result.findings if f.rule_id == "INPUT001"),
                  "workloads": result.workload_count, "report_bytes": rendered}))
"""


def scan_in_subprocess(root: Path, *, env: dict | None = None, timeout: float = 900) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=str(REPO),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scan subprocess failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


_LOADER_CHILD = r"""
import json, sys, time
from pathlib import Path
import yaml
from scanner.loader import yamltext
from scanner.loader.documents import load
if sys.argv[2] == "SafeLoader":
    yamltext._Loader = yaml.SafeLoader
root = Path(sys.argv[1])
started = time.perf_counter()
result = load([root], root)
elapsed = time.perf_counter() - started
size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
print(json.dumps({"loader": yamltext.loader_name(), "files": len(result.files), "documents": len(result.documents),
                  "seconds": round(elapsed, 3), "files_per_s": round(len(result.files) / elapsed),
                  "docs_per_s": round(len(result.documents) / elapsed), "mb_per_s": round(size / elapsed / 1e6, 2)}))
"""


def loader_benchmark(root: Path) -> list[dict]:
    out = []
    for loader in ("CSafeLoader", "SafeLoader"):
        proc = subprocess.run(
            [sys.executable, "-c", _LOADER_CHILD, str(root), loader],
            capture_output=True,
            text=True,
            cwd=str(REPO),
            check=True,
        )
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--broken", type=int, default=1_000)
    parser.add_argument("--loader-only", action="store_true", help="measure loader throughput only (no broken files)")
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubematrix-scale-") as tmp:
        root = args.keep or Path(tmp) / "tree"
        started = time.perf_counter()
        expected = generate(root, args.docs, 0 if args.loader_only else args.broken)
        generated = round(time.perf_counter() - started, 2)
        if args.loader_only:
            for row in loader_benchmark(root):
                print(json.dumps(row))
            return
        got = scan_in_subprocess(root)
        missing = sorted(set(expected["broken_files"]) - set(got.pop("input001_files")))
        print(
            json.dumps(
                {
                    "documents": args.docs,
                    "broken": args.broken,
                    "generate_seconds": generated,
                    **got,
                    "every_broken_file_reported": not missing,
                    "missing": missing[:10],
                }
            )
        )


if __name__ == "__main__":
    main()
