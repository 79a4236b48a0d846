"""Reading PyTorch checkpoint files (pytorch_model.bin, fairseq .pt) safely.

torch.load runs with weights_only=True: nothing is unpickled beyond tensors and plain
data. Its own errors advise `weights_only=False`, an option `w2v2jax convert` does not
offer (and would run arbitrary code), so each failure is reworded as what the user can do.
"""

import re

from w2v2jax.errors import CheckpointError


def torch_load(path: str, plain_types: tuple = (), pickled_objects_hint: str = ""):
    """The object a torch file holds; `plain_types` are classes also allowed (argparse's
    Namespace in fairseq's configs). Raises CheckpointError naming the file."""
    try:
        import torch
    except ImportError as e:
        raise CheckpointError(
            f"{path} is a PyTorch file; reading it needs torch (pip install torch), or "
            "convert it to safetensors first."
        ) from e
    import pickle

    try:
        with torch.serialization.safe_globals(list(plain_types)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(
            f"{path}: holds pickled Python objects{what} besides tensors, which w2v2jax never "
            "unpickles (they could run code); "
            + (pickled_objects_hint or "re-save the tensors alone: torch.save(model.state_dict())")
        ) from None
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as e:  # torch reports a damaged zip or pickle as many kinds of errors
        first = str(e).split(". ")[0][:160]
        raise CheckpointError(
            f"{path}: cannot be read as a PyTorch file ({type(e).__name__}: {first}); it is "
            "truncated, damaged or not a checkpoint: download or save it again"
        ) from e


def to_numpy(obj):
    """Tensors in (nested) dicts -> float32 numpy arrays (other floats cast, ints kept)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().to(torch.float32).numpy() if obj.is_floating_point() else obj.numpy()
    if isinstance(obj, dict):
        return {k: to_numpy(v) for k, v in obj.items()}
    return obj
