"""Arrays on a CUDA device (torch tensors, or any DLPack producer) given to :mod:`segpipe.topology`.

With the CUDA backend, the engine reads device arrays where they are, without a copy to the host,
when the options need no NumPy preparation (``connectivity="face"``, ``relative=False``);
otherwise device arrays are copied to the host first. The CPU backend takes host arrays only.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from segpipe.topology import _engine
from segpipe.topology._inputs import as_image, check_shape, same_shape
from segpipe.topology.errors import TopologyThreadError, TopologyTypeError, TopologyValueError

#: DLPack device types of CUDA memory (kDLCUDA, kDLCUDAManaged).
_CUDA_DEVICE_TYPES = (2, 13)


def is_device_array(data: Any) -> bool:
    """Whether ``data`` lies on a CUDA device (its ``__dlpack_device__`` says so)."""
    device = getattr(data, "__dlpack_device__", None)
    if device is None:
        return False
    try:
        return int(device()[0]) in _CUDA_DEVICE_TYPES
    except Exception:  # a producer whose __dlpack_device__ cannot answer is no device array
        return False


def is_torch_tensor(data: Any) -> bool:
    """Whether ``data`` is a torch tensor (without importing torch)."""
    return type(data).__module__.split(".")[0] == "torch"


def device_image(data: Any, name: str) -> Any:
    """A CUDA array as the engine reads it: detached, C-contiguous, float32/float64, 2 or 3 axes.

    Raises
    ------
    TopologyTypeError
        For another dtype.
    TopologyValueError
        For a shape the engine cannot handle (NaN and inf are found by the engine itself).
    """
    if is_torch_tensor(data):
        data = data.detach().contiguous()
    dtype = str(data.dtype).rsplit(".", 1)[-1]
    if dtype not in ("float32", "float64"):
        raise TopologyTypeError(
            f"dtype {dtype} of an array on a CUDA device is not float32 or float64",
            where=name,
            fix="convert it on the device (e.g. tensor.float())",
        )
    check_shape(tuple(data.shape), name)
    return data


def host_array(data: Any, name: str) -> Any:
    """``data`` copied to host memory if it lies on a CUDA device (torch tensors), else unchanged."""
    if not is_device_array(data):
        return data
    if is_torch_tensor(data):
        return data.detach().cpu().numpy()
    raise TopologyTypeError(
        f"{type(data).__name__} lies on a CUDA device and cannot be copied to the host here",
        where=name,
        fix="pass a torch tensor or a NumPy array, or use connectivity='face' and relative=False",
    )


def engine_arrays(arrays: Sequence[Any], names: Sequence[str], backend: str, direct: bool) -> list[Any]:
    """One or two arrays (of equal shape) as the engine takes them on ``backend``.

    With the CUDA backend, options the engine computes by itself (``direct``) and an array on a
    CUDA device, all arrays go to that device (a host array is copied there, through torch);
    otherwise they are validated float64 host arrays (device arrays copied to the host with the
    CUDA backend, rejected with the CPU backend as before).
    """
    if backend == "cuda" and direct and any(is_device_array(a) for a in arrays):
        anchor = next(a for a in arrays if is_device_array(a))
        out = [_on_device_of(anchor, a, n) for a, n in zip(arrays, names)]
    else:
        out = [as_image(host_array(a, n) if backend == "cuda" else a, n) for a, n in zip(arrays, names)]
    if len(out) == 2:
        same_shape(*out)
    return out


def _on_device_of(anchor: Any, data: Any, name: str) -> Any:
    if is_device_array(data):
        return device_image(data, name)
    if not is_torch_tensor(anchor):
        raise TopologyTypeError(
            "one array lies on a CUDA device and the other in host memory",
            where=name,
            fix="pass both on the same device",
        )
    import torch

    return torch.as_tensor(as_image(data, name), device=anchor.device)


@contextmanager
def engine_errors(where: str) -> Iterator[None]:
    """Turn the engine's ValueError (its own checks of device arrays) into TopologyValueError and
    its ThreadStartError (the system refused a worker thread) into TopologyThreadError."""
    try:
        yield
    except TopologyValueError:
        raise
    except ValueError as error:
        raise TopologyValueError(
            str(error), where=where, fix="pass finite float32/float64 arrays of equal shape on one device"
        ) from error
    except _engine.ThreadStartError as error:
        raise TopologyThreadError(
            str(error), where="threads", fix="pass fewer threads, or raise the process's thread or memory limit"
        ) from error


def gather_on_device(array: Any, linear: np.ndarray, missing: float) -> np.ndarray:
    """Values of a CUDA torch tensor at C-order indices (-1: ``missing``), gathered by the engine's
    kernel on the device; only the gathered values are copied to the host."""
    if not is_torch_tensor(array):
        raise TopologyTypeError(
            f"cannot gather from a {type(array).__name__} on a CUDA device",
            where="array",
            fix="pass a torch tensor or a NumPy array",
        )
    import torch

    values = array.detach().contiguous()
    if values.dtype not in (torch.float32, torch.float64):
        values = values.double()
    indices = torch.as_tensor(linear, device=values.device)
    out = torch.empty(len(linear), dtype=torch.float64, device=values.device)
    if len(linear):
        _engine.gather(values, indices, out, missing)
    return out.cpu().numpy()
