#!/usr/bin/env python3
"""Check that the crate is layered and that its imports only point down (issue 15).

Usage: python3 scripts/check-layers.py [CRATE_DIR]        (default: .)

Reads the non-test .rs files under CRATE_DIR/src (skipping tests.rs, proptests.rs, tests/
folders, `#[cfg(test)]` items, comments and string literals) and checks:

1. Layers. Each top-level module (src/X.rs or src/X/) is in one layer of LAYERS, and may
   name `crate::Y` only for Y in its own layer or a lower one; top-level modules do not
   import each other in a cycle; modules below NO_NAMES_BELOW never name FORBIDDEN_NAMES.
2. Folders. In every folder the nodes are its children (`name.rs` or `name/`, a subfolder
   being one node) and its root file (`mod.rs`, or `name.rs` beside `name/`); they do not
   import each other in a cycle. An edge is a path naming another node (`super::sibling`,
   `crate::a::sibling`, `sibling::` in the root file). Naming an item of the root file
   (`super::Item`) is an edge to the root file, or to the sibling the root file imports
   the item from (`pub use sibling::Item;`). The root file's `mod x;` and `pub use` lines
   are the folder's façade, not edges; its code and its private `use` lines are edges.
3. Size. Non-test files longer than LINE_LIMIT lines are listed, as warnings only.

Exits 1 after printing each violation with the file:lines behind it, else 0 with a summary.
Regexes and a small use-tree expander, not a Rust parser: macros, `#[path]`, glob
re-exports and inline `mod x { }` blocks are not understood.
"""
import re
import sys
from collections import defaultdict
from pathlib import Path

# Lowest layer first. A module may import from its own layer and from any lower one.
LAYERS = [
    ("leaves", ["identity", "http", "router", "metrics", "log_format", "log_writer", "worker",
                "text_position", "files"]),
    ("config", ["config"]),
    ("domains", ["tls", "auth", "upstream"]),
    ("edge", ["request"]),
    ("composition root", ["gateway"]),
    ("runtime", ["server", "admin"]),
    ("top", ["commands"]),  # the subcommands and the startup Error, beside main.rs
]
NO_NAMES_BELOW = "edge"  # modules in the layers below this one never name:
FORBIDDEN_NAMES = ("RequestError", "Snapshot", "Gateway")
LINE_LIMIT = 400
TEST_FILES = ("tests.rs", "proptests.rs")

# Comments, string and char literals (blanked before anything else is looked at).
LITERALS = re.compile(r'//[^\n]*|/\*.*?\*/|(?<!\w)b?r(#*)".*?"\1|(?<!\w)b?"(?:\\.|[^"\\])*"'
                      r"|(?<!\w)b?'(?:\\u\{\w+\}|\\.|[^\\'])'", re.S)
USE = re.compile(r"(?<![\w:])(pub(?:\s*\([^)]*\))?\s+)?use\s+([^;]+);")
CODE_PATH = re.compile(r"(?<![\w:$])[A-Za-z_]\w*(?:::\w+)+")
MODULES = set()  # module paths of all source files, e.g. ("auth", "jwt")


def blank(text):
    """Same length and line breaks, nothing else."""
    return re.sub(r"[^\n]", " ", text)


def drop_test_items(text):
    """Blank each `#[cfg(test)]` item: up to its `;` or the end of its balanced `{ }`."""
    for m in re.finditer(r"#\[cfg\(test\)\]", text):
        depth, j = 0, m.end()
        while j < len(text) and depth >= 0:  # below 0: the enclosing block ended first
            c, j = text[j], j + 1
            depth += (c in "([{") - (c in ")]}")
            if depth == 0 and c in ";}":
                break
        j -= depth < 0
        text = text[:m.start()] + blank(text[m.start():j]) + text[j:]
    return text


def module_path(rel):
    """src/auth/mod.rs and src/auth.rs -> ("auth",); src/lib.rs -> ()."""
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "mod" or parts == ["lib"]:
        parts.pop()
    return tuple(parts)


def expand(tree):
    """`a::{self, b::{c as d, *}}` -> [(["a"], "a"), (["a","b","c"], "d"), (["a","b","*"], "*")]."""
    tokens, out, pos = re.findall(r"::|[{},*]|\w+", tree), [], 0

    def walk(prefix):
        nonlocal pos
        path, alias = list(prefix), None
        while pos < len(tokens) and tokens[pos] not in ",}":
            tok, pos = tokens[pos], pos + 1
            if tok == "{":
                while pos < len(tokens) and tokens[pos] != "}":
                    if tokens[pos] == ",":
                        pos += 1
                    else:
                        walk(path)
                pos += 1
                return
            if tok == "as" and pos < len(tokens):
                alias, pos = tokens[pos], pos + 1
            elif tok != "::":
                path.append(tok)
        if len(path) > 1 and path[-1] == "self":
            path.pop()
        if path:
            out.append((path, alias or path[-1]))

    walk([])
    return out


def absolute(segs, me):
    """The crate path a path names from module `me`, or None for other crates and locals."""
    if segs[0] == "crate":
        return tuple(segs[1:])
    if segs[0] == "self":
        return me + tuple(segs[1:])
    if segs[0] == "super":
        while segs and segs[0] == "super":
            me, segs = me[:-1], segs[1:]
        return me + tuple(segs)
    return me + tuple(segs) if me + (segs[0],) in MODULES else None


def references(text, me):
    """[(kind, crate path, line, bound name)]; kind is "pub use", "use" or "code"."""
    refs = []
    for m in USE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        for segs, name in expand(m.group(2)):
            target = absolute(segs, me)
            if target:
                refs.append(("pub use" if m.group(1) else "use", target, line, name))
    code = USE.sub(lambda m: blank(m.group()), text)
    for m in CODE_PATH.finditer(code):
        target = absolute(m.group().split("::"), me)
        if target:
            refs.append(("code", target, code.count("\n", 0, m.start()) + 1, None))
    return refs


def node(folder, target, children, bindings, root):
    """The node of `folder` that `target` (a path inside it) names; None if outside it."""
    k, name = len(folder), target[len(folder)]
    if name in children:
        return name
    bound = bindings.get(name)  # an item the root file imports, re-exported or not
    if name == "*" or bound is None:
        return root
    if bound[:k] == folder and len(bound) > k and bound[k] in children:
        return bound[k]
    return None  # imported from outside the folder: an edge at a higher level


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, comps = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while not comp or v not in comp:
                comp.add(stack.pop())
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def a_cycle(comp, graph):
    """One shortest cycle through the first node of a component: [a, b, ..., a]."""
    start, prev, queue = min(comp), {}, [min(comp)]
    for v in queue:
        for w in sorted(graph[v] & comp):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return path[::-1] + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)


def where(places):
    """{(file, line)} -> "src/a.rs:3,9; src/b.rs:1"."""
    lines = defaultdict(set)
    for f, n in places:
        lines[f].add(n)
    return "; ".join(f"{f}:{','.join(map(str, sorted(ns)))}" for f, ns in sorted(lines.items()))


def read_sources(src):
    """{path under src: text with comments, literals and test code blanked}."""
    files = {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src)
        if f.name not in TEST_FILES and "tests" not in rel.parts[:-1] and str(rel) != "main.rs":
            files[rel] = drop_test_items(LITERALS.sub(lambda m: blank(m.group()), f.read_text()))
    return files


def folder_edges(files, mods, folders):
    """{folder module path: {(node, node): {(file, line)}}}; () is src/ without lib.rs."""
    roots = {m: rel for rel, m in mods.items()}  # module path -> its root file
    refs = {rel: references(text, mods[rel]) for rel, text in files.items()}
    bindings = {p: {name: t for _, t, _, name in refs[roots[p]] if name} for p in roots}
    edges = defaultdict(lambda: defaultdict(set))
    for rel, rs in refs.items():
        me = mods[rel]
        for kind, target, line, _ in rs:
            for k in range(len(me) + 1):  # each folder holding this file, src/ first
                p = me[:k]
                if p not in folders or target[:k] != p or len(target) <= k:
                    continue
                root = roots[p].name if p in roots else "mod.rs"
                a = me[k] if k < len(me) else root
                b = node(p, target, folders[p], bindings.get(p, {}), root)
                if b is not None and a != b and not (a == root and kind == "pub use"):
                    edges[p][a, b].add((f"src/{rel.as_posix()}", line))
    edges[()] = {e: places for e, places in edges[()].items() if "lib.rs" not in e}
    return edges


def layer_problems(files, mods, top, top_edges):
    """Unknown modules, upward imports, forbidden names in the lower layers."""
    layer_of = {n: i for i, (_, names) in enumerate(LAYERS) for n in names}
    problems = [f"unknown top-level module {name}: add it to the layer table"
                for name in sorted(top - set(layer_of))]
    for (a, b), places in sorted(top_edges.items()):
        if layer_of.get(b, -1) > layer_of.get(a, len(LAYERS)):
            problems.append(f"upward import {a} ({LAYERS[layer_of[a]][0]}) -> {b} "
                            f"({LAYERS[layer_of[b]][0]}): {where(places)}")
    limit = [name for name, _ in LAYERS].index(NO_NAMES_BELOW)
    word = re.compile(r"\b(?:" + "|".join(FORBIDDEN_NAMES) + r")\b")
    for rel, text in files.items():
        if mods[rel] and layer_of.get(mods[rel][0], limit) < limit:
            named = defaultdict(set)  # forbidden name -> {(file, line)}
            for m in word.finditer(text):
                named[m.group()].add((f"src/{rel.as_posix()}", text.count("\n", 0, m.start()) + 1))
            problems += [f"{LAYERS[layer_of[mods[rel][0]]][0]} name {name}: {where(places)}"
                         for name, places in sorted(named.items())]
    missing = sorted(set(layer_of) - top)
    return problems, missing


def cycle_problems(edges):
    """Each cycle of each folder, with the edges inside it and where they come from."""
    problems = []
    for p, folder in sorted(edges.items()):
        graph = defaultdict(set)
        for a, b in folder:
            graph[a].add(b)
        for comp in cycles(graph):
            label = "among top-level modules" if p == () else f"in src/{'/'.join(p)}/"
            problems.append("\n".join([f"cycle {label}: {' -> '.join(a_cycle(comp, graph))}"] + [
                f"    {a} -> {b}: {where(places)}"
                for (a, b), places in sorted(folder.items()) if a in comp and b in comp]))
    return problems


def main():
    src = Path(sys.argv[1] if len(sys.argv) > 1 else ".") / "src"
    if not src.is_dir():
        print(f"check-layers: no {src}/ here (usage: check-layers.py [CRATE_DIR])")
        return 1
    files = read_sources(src)
    mods = {rel: module_path(rel) for rel in files}
    MODULES.update(mods.values())
    folders = defaultdict(set)  # module path -> the names of its children
    for m in mods.values():
        for k in range(len(m)):
            folders[m[:k]].add(m[k])
    edges = folder_edges(files, mods, folders)
    problems, missing = layer_problems(files, mods, folders[()], edges[()])
    problems += cycle_problems(edges)

    for problem in problems:
        print(f"error: {problem}")
    if missing:
        print(f"warning: the layer table names modules not in src/: {', '.join(missing)}")
    for n, rel in sorted(((t.count("\n"), rel) for rel, t in files.items()), reverse=True):
        if n > LINE_LIMIT:
            print(f"warning: src/{rel.as_posix()} has {n} lines (limit ~{LINE_LIMIT})")
    summary = (f"{len(folders[()])} top-level modules in {len(LAYERS)} layers, "
               f"{len(folders) - 1} folders checked")
    if problems:
        print(f"check-layers: {len(problems)} violation(s); {summary}")
        return 1
    print(f"check-layers: ok: {summary}, imports only point down, no cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
