"""The mesh index: what ``govern check`` needs to know about the rest of a mesh, kept under .govern/.

Checking one product needs its lineage neighbours (upstream and downstream products, and the
upstream contracts it reads) and facts about the whole lineage graph (cycles, depth, who publishes which
contract). Loading every file of a 10,000-product mesh for that takes seconds, so ``check`` keeps an
index in ``MESH/.govern/index.json``: for every descriptor and contract file its signature (size,
modification and change time, inode), the product's id, name, published contracts and input ports
(or the contract's id), and the graph facts computed from them. A file whose signature changed, or
that changed too close to the index being written to trust its time stamps, is read again; the
facts are recomputed whenever any entry changed. Then only the checked products, their neighbours
and the contracts the checked products publish and read are loaded (the contracts of downstream
neighbours reach no input document). A missing, unreadable or outdated index is rebuilt; one
that cannot be written is used for the run and not kept.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.gather.files import load_one
from engine.gather.mesh import Facts, by_reference, link_facts, links_leaving, summary, walk_files
from engine.parallel import Workers

INDEX_VERSION = 1
INDEX_PATH = Path(".govern") / "index.json"
RACY_NS = 2_000_000_000  # a file written this close to the index may have changed within one time stamp


@dataclass
class MeshIndex:
    root: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # path relative to root -> entry
    facts: Facts = field(default_factory=Facts)
    product_keys: list[str] = field(default_factory=list)  # in discovery order
    contract_keys: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # every key, in discovery order

    def neighbourhood(self, paths: list[Path]) -> tuple[list[Path], list[Path]]:
        """The descriptor and contract files to load to check everything in ``paths``: the files
        inside them, the products their products read from or feed, every file claiming one of
        those products' ids or names, and the contracts the checked products publish and read."""
        named = {_key(self.root, p) for p in paths}
        prefixes = tuple(f"{k}/" for k in named)
        return self._around(lambda key: key in named or key.startswith(prefixes))

    def batches(self, size: int) -> list[list[Path]]:
        """Every descriptor and contract file, in groups of about ``size`` products for an audit
        that holds only one group (and its neighbours) at a time. A folder's files stay in one
        group, so a product and the contracts beside it are loaded together."""
        folders: dict[str, list[str]] = {}
        for key in self.order:
            folders.setdefault(os.path.dirname(key), []).append(key)
        groups: list[list[Path]] = []
        group: list[Path] = []
        products = 0
        for keys in folders.values():
            group.extend(self.root / key for key in keys)
            products += sum(1 for key in keys if self.entries[key].get("kind") == "product")
            if products >= size:
                groups.append(group)
                group, products = [], 0
        if group:
            groups.append(group)
        return groups

    def files_around(self, files: list[Path]) -> tuple[list[Path], list[Path]]:
        """The descriptor and contract files to load to evaluate exactly ``files`` (a batch): these,
        their products' neighbours, the contracts their products publish and read, and every other contract
        claiming the id of one of them (the first claim wins, as when the whole mesh is loaded)."""
        named = {_key(self.root, p) for p in files}
        claimed = {self.entries[key].get("id") for key in self.contract_keys if key in named} - {None}
        return self._around(named.__contains__, claimed)

    def _around(self, inside: Callable[[str], bool], contract_ids: set[str] | None = None) -> tuple[list[Path], list[Path]]:
        entries = self.entries
        ids = {entries[key].get("id") for key in self.product_keys if inside(key)} - {None}
        wanted = set(ids)
        for up, down, _ in self.facts.edges:
            if down in ids:
                wanted.add(up)
            if up in ids:
                wanted.add(down)
        products = [
            key
            for key in self.product_keys
            if inside(key) or entries[key].get("id") in wanted or entries[key].get("name") in wanted
        ]
        contract_ids = (contract_ids or set()) | self._read_by([key for key in self.product_keys if inside(key)])
        contracts = [key for key in self.contract_keys if inside(key) or entries[key].get("id") in contract_ids]
        return [self.root / key for key in products], [self.root / key for key in contracts]

    @functools.cached_property
    def _by_reference(self) -> dict[str, dict[str, Any]]:
        """The product entries by id and name (once per process: an audit asks for every batch)."""
        return by_reference([self.entries[key] for key in self.product_keys])

    def _read_by(self, keys: list[str]) -> set[str]:
        """The contract ids the products of ``keys`` publish or read: an input port reads the
        contract it names when its upstream publishes it, else every contract of its upstream
        (as engine.gather.mesh.Mesh.upstream_objects resolves them)."""
        products = self._by_reference
        read: set[str] = set()
        for key in keys:
            entry = self.entries[key]
            read.update(entry.get("outputs", []))
            for ref, cid in entry.get("inputs", []):
                upstream = products.get(ref or self.facts.publisher.get(cid or "", ""), {}).get("outputs", [])
                read.update([cid] if cid in upstream else upstream)
        return read


def _key(root: Path, path: Path | str) -> str:
    """``path`` relative to ``root``, as text (the index's key)."""
    base, text = str(root), str(path)
    if text.startswith(base + os.sep):
        return text[len(base) + 1 :]
    return os.path.relpath(text, base) if text != base else "."


def _signature(path: str | os.DirEntry[str]) -> list[int] | None:
    try:
        st = path.stat() if isinstance(path, os.DirEntry) else os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _summary(item: tuple[Path, str]) -> dict[str, Any]:
    """What the index keeps of one file (read in full; a file that cannot be loaded has no id)."""
    kind = item[1]
    loaded = load_one(item)
    if isinstance(loaded, tuple):
        return {"kind": kind}
    if kind == "contract":
        return {"kind": kind, "id": loaded.contract.id}
    return {"kind": kind, **summary(loaded)}


def _read(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    ok = isinstance(data, dict) and data.get("version") == INDEX_VERSION and isinstance(data.get("files"), dict)
    return data if ok else {}


def refresh(root: Path, named: list[Path] | None = None, workers: Workers | None = None) -> MeshIndex:
    """The index of the mesh at ``root`` (plus the descriptors ``named`` on the command line that
    discovery does not find), brought up to date and saved when it changed. Files to read again are
    read by ``workers`` when given. A stored index of the right version but the wrong shape is
    rebuilt."""
    stored = _read(root / INDEX_PATH)
    try:
        return _refresh(root, named or [], workers, stored)
    except (AttributeError, KeyError, TypeError, ValueError):
        return _refresh(root, named or [], workers, {})


def _refresh(root: Path, named: list[Path], workers: Workers | None, stored: dict[str, Any]) -> MeshIndex:
    old: dict[str, dict[str, Any]] = stored.get("files", {})
    written = stored.get("written_ns", 0)
    index = MeshIndex(root=root)
    files: list[tuple[str, str, os.DirEntry[str] | None]] = [(e.path, kind, e) for e, kind in walk_files(root)]
    found = {path for path, _, _ in files}
    files += [(str(p), "product", None) for p in named if str(p) not in found]
    # Links leaving the mesh are not read (load_mesh makes them errors): they declare nothing here.
    leaving = links_leaving(root, [Path(path) for path, _, e in files if e is None or e.is_symlink()])
    stale: list[tuple[str, str, str, list[int] | None]] = []
    for path, kind, dir_entry in files:
        key = _key(root, path)
        (index.product_keys if kind == "product" else index.contract_keys).append(key)
        index.order.append(key)
        sig = _signature(dir_entry or path)
        entry = old.get(key)
        fresh = entry is not None and entry.get("sig") == sig and entry.get("kind") == kind
        if fresh and sig is not None and sig[1] < written - RACY_NS:
            index.entries[key] = entry
        else:
            stale.append((key, path, kind, sig))
    changed = reread = False
    items = [(Path(path), kind) for _, path, kind, _ in stale if Path(path) not in leaving]
    read = workers.map(_summary, items, len(items)) if workers is not None else map(_summary, items)
    for key, path, kind, sig in stale:
        entry = {"kind": kind} if Path(path) in leaving else next(read)
        entry["sig"] = sig
        if entry != old.get(key):
            changed = True
        else:  # unchanged, but too recent to trust: saving again moves the index past it
            reread = True
        index.entries[key] = entry
    changed = changed or set(old) != set(index.entries) or not isinstance(stored.get("facts"), dict)
    if changed:
        index.facts = link_facts([index.entries[key] for key in index.product_keys])
    else:
        index.facts = Facts.from_json(stored["facts"])
    if changed or reread:
        _write(root / INDEX_PATH, index)
    return index


def _write(file: Path, index: MeshIndex) -> None:
    """Save atomically; a mesh that cannot be written to simply has no saved index."""
    data = {"version": INDEX_VERSION, "written_ns": time.time_ns(), "files": index.entries, "facts": index.facts.to_json()}
    save_json(file, data)


def save_json(path: Path, value: Any) -> None:
    """Write ``value`` to ``path`` as JSON, atomically (a temporary file renamed into place, so no
    reader sees half of it), creating its folder. A path that cannot be written, or a value that
    is not JSON, is not saved: the index only ever saves time."""
    try:
        text = json.dumps(value, separators=(",", ":"))  # at once: json.dump to a file encodes in Python
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(text, encoding="utf-8")
        try:
            os.replace(temporary, path)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
    except (OSError, TypeError, ValueError):
        pass
