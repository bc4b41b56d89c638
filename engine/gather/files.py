"""One descriptor or contract file of a mesh, loaded, through the cache (engine/cache.py).

What loading a file gives (the product or contract model and the line of every key path) depends
only on its bytes, its name as shown and its kind, so it is cached under a digest of these:
restoring a 30-column contract from the cache takes a sixth of the time of parsing and validating
it, and needs neither the ODCS models nor the schema validator. A file that fails to load is not
cached; it fails again, with the same message, each time.
"""

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from engine import cache
from engine.config import display
from engine.errors import LoadError
from engine.gather.contracts import LoadedContract
from engine.gather.descriptors import LoadedProduct
from engine.gather.yamlsrc import Located, decode, load_text, read_bytes
from engine.model import Contract, Product

KIND = "files"


def load_one(item: tuple[Path, str]) -> Any:
    """Load a contract or descriptor; a LoadError comes back as a tuple (exceptions lose file and line in a pickle)."""
    path, kind = item
    shown = display(path)
    try:
        raw = read_bytes(path, shown)
        digest = cache.key(KIND, kind, shown, raw)
        loaded = _restore(kind, shown, cache.get_text(KIND, digest))
        if loaded is None:
            loaded = _load(kind, load_text(decode(raw, shown), shown))
            _store(digest, loaded)
    except LoadError as e:
        return ("error", e.message, e.file, e.line)
    return loaded


def _load(kind: str, doc: Located) -> LoadedContract | LoadedProduct:
    if kind == "contract":
        from engine.gather.contracts import load_contract

        loaded: LoadedContract | LoadedProduct = load_contract(doc)
    else:
        from engine.gather.descriptors import load_descriptor

        loaded = load_descriptor(doc)
    loaded.doc.data = None  # the model holds what is needed; this halves what a worker sends back
    return loaded


def _model(loaded: LoadedContract | LoadedProduct) -> Contract | Product:
    return loaded.contract if isinstance(loaded, LoadedContract) else loaded.product


def _store(digest: str, loaded: LoadedContract | LoadedProduct) -> None:
    """Put a loaded file's entry into the cache: the model and the line of every key path."""
    model, lines = _model(loaded), loaded.doc.lines
    if loaded.doc.nonfinite:
        # pydantic writes .inf and .nan as null; the standard library writes them as JSON's
        # Infinity and NaN (which pydantic reads back): slower, only for the files that need it.
        cache.put(KIND, digest, {"model": model.model_dump(), "lines": lines})
    else:
        # Serialized by pydantic (a fifth of the time of model_dump and json.dumps).
        cache.put_text(KIND, digest, f'{{"model":{model.model_dump_json()},"lines":{to_json(lines).decode()}}}')


class _StoredContract(BaseModel):
    """A cache entry of a contract, read and validated from its JSON text at once (pydantic parses
    the JSON itself: 40% less time than json.loads and then validating the Python values)."""

    model: Contract
    lines: dict[str, int]


class _StoredProduct(BaseModel):
    model: Product
    lines: dict[str, int]


def _restore(kind: str, shown: str, text: str | bytes | None) -> LoadedContract | LoadedProduct | None:
    """The cached load, or None when there is none or it does not fit the models (then it is loaded again)."""
    if text is None:
        return None
    try:
        if kind == "contract":
            contract = _StoredContract.model_validate_json(text)
            return LoadedContract(contract.model, Located(data=None, file=shown, lines=contract.lines))
        product = _StoredProduct.model_validate_json(text)
        return LoadedProduct(product.model, Located(data=None, file=shown, lines=product.lines))
    except ValidationError:
        return None
