#!/usr/bin/env python3
"""The module graph of src/ and its one direction, checked.

Reads every `crate::<module>` path in each top-level module of src/ (use lines and paths
written inline, tests included; comments skipped), prints the graph, and fails (exit 1) on:
- an edge against the direction cli -> (client | daemon) -> api -> engine -> the foundation
  (alerts, webhooks, extract, query, analysis, index, ledger, matcher, watcher, config,
  metrics, document and the one-of-each helpers), where the foundation's modules may use each
  other but never a module above them;
- any cycle (a strongly connected group of modules), in the foundation too;
- a transport or CLI crate (tokio, axum, hyper, utoipa, clap) used in the synchronous modules.

EXCEPTIONS lists edges that are known and being removed; each is reported, not failed, and the
list must be empty once the work that removes them has landed. An exception that no longer
occurs is reported too, so that it is taken off the list.

usage: scripts/check-module-deps.py [SRC_DIR]   (default: src next to this script's folder)
"""
import os
import re
import sys

# Higher layers may use lower ones only. Modules not named here are in the foundation (1).
LAYERS = {
    "cli": 5,
    "client": 4,
    "daemon": 4,
    "api": 3,
    "engine": 2,
    "pipeline": 2,  # today's engine, being replaced by engine/
    "main": 6,
}
FOUNDATION = 1

# Modules that must not use a transport or CLI crate (synchronous code; the webhook delivery
# task is tokio and lives in webhooks/).
SYNCHRONOUS = ["engine", "query", "analysis", "matcher", "index", "extract", "alerts", "stories"]
TRANSPORT_CRATES = ["tokio", "axum", "hyper", "utoipa", "clap"]

# (from, to): reason. Temporary: removed on branch fix-engine (engine/ replaces pipeline/ and
# daemon/control.rs; the API's answer types move from daemon/ into api/).
EXCEPTIONS: dict = {}

CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
# `use tokio::...`, `tokio::spawn(...)`, `#[tokio::test]`, `derive(clap::ValueEnum)`, `utoipa::ToSchema`.
EXTERNAL_PATH = re.compile(r"(?<![\w:])(" + "|".join(TRANSPORT_CRATES) + r")::")


def top_modules(src):
    modules = {}
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if entry in ("lib.rs",):
            continue
        if os.path.isdir(path):
            files = []
            for folder, _, names in os.walk(path):
                files += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".rs")]
            modules[entry] = files
        elif entry.endswith(".rs"):
            modules[entry[:-3]] = [path]
    return modules


def code_lines(path):
    """(line number, text) of each line with its comment cut off (a `//` outside a string)."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            stripped = line.lstrip()
            if stripped.startswith("//"):
                continue
            # Cut a trailing comment when no string is open before it (good enough for paths).
            cut = line.find("//")
            if cut >= 0 and line[:cut].count('"') % 2 == 0:
                line = line[:cut]
            yield number, line


def layer(module):
    return LAYERS.get(module, FOUNDATION)


def allowed(source, target):
    if layer(source) == FOUNDATION and layer(target) == FOUNDATION:
        return True
    return layer(source) > layer(target)


def strongly_connected(graph):
    """Tarjan's algorithm: the groups of more than one module that reach each other."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "src")
    modules = top_modules(src)
    graph = {m: {} for m in modules}  # module -> {target: first "file:line"}
    transport = []  # (module, crate, "file:line")
    for module, files in modules.items():
        for path in files:
            rel = os.path.relpath(path, os.path.join(src, ".."))
            for number, line in code_lines(path):
                for target in CRATE_PATH.findall(line):
                    if target != module and target in modules:
                        graph[module].setdefault(target, f"{rel}:{number}")
                if module in SYNCHRONOUS:
                    for crate in EXTERNAL_PATH.findall(line):
                        transport.append((module, crate, f"{rel}:{number}"))

    failures, excused = [], []
    print("module graph (module -> what it uses; layer in brackets):")
    for module in sorted(graph, key=lambda m: (-layer(m), m)):
        targets = []
        for target in sorted(graph[module]):
            mark = ""
            if not allowed(module, target):
                if (module, target) in EXCEPTIONS:
                    mark = " (exception)"
                    excused.append((module, target))
                else:
                    mark = " (AGAINST THE DIRECTION)"
                    failures.append(f"{module} -> {target} goes against the direction "
                                    f"(first at {graph[module][target]})")
            targets.append(target + mark)
        print(f"  {module} [{layer(module)}] -> {', '.join(targets) or '-'}")

    for group in strongly_connected({m: set(t) for m, t in graph.items()}):
        edges = [f"{a} -> {b} ({graph[a][b]})" for a in group for b in group if b in graph[a]]
        if all((a, b) in EXCEPTIONS or allowed(a, b) for a in group for b in group if b in graph[a]) \
                and any((a, b) in EXCEPTIONS for a in group for b in group if b in graph[a]):
            print(f"cycle, through exceptions only: {' <-> '.join(group)}")
            continue
        failures.append("cycle: " + " <-> ".join(group) + "; edges: " + "; ".join(edges))

    for module, crate, where in transport:
        failures.append(f"{module} uses {crate} ({where}): no transport or CLI crate in {module}/")

    for edge in sorted(EXCEPTIONS):
        if edge in excused:
            print(f"exception still in use: {edge[0]} -> {edge[1]}: {EXCEPTIONS[edge]}")
        else:
            print(f"exception no longer needed (take it off the list): {edge[0]} -> {edge[1]}")

    if failures:
        print(f"\n{len(failures)} problem(s):")
        for failure in failures:
            print(f"  {failure}")
        return 1
    print(f"\nok: {len(graph)} modules, one direction"
          + (f", {len(excused)} exception(s) left" if excused else ", no exception left"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
