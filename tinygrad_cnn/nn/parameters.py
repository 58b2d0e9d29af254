"""ParameterList and ParameterDict: containers whose entries are registered parameters
("0", "1", ... or the dict's keys), as in PyTorch, so model.parameters(), state_dict() and
optimizers see them. Tensors that are not Parameters are wrapped in one (shared, as
nn.Parameter(t) does)."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from ..argcheck import check_int, check_sequence, describe
from ..errors import ArgumentError
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["ParameterList", "ParameterDict"]


def _as_parameter(value: Any, where: str) -> Parameter:
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{where}: expected an nn.Parameter or a Tensor, got {type(value).__name__}")


class ParameterList(Module):
    """A list of parameters, registered under "0", "1", ..."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def _index(self, idx: int) -> int:
        check_int(idx, "index", "ParameterList")
        n = len(self._parameters)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a ParameterList of length {n}")
        return idx % n

    def __getitem__(self, idx: int | slice) -> Any:
        values = list(self._parameters.values())
        if isinstance(idx, slice):
            return ParameterList(values[idx])
        return values[self._index(idx)]

    def __setitem__(self, idx: int, value: Any) -> None:
        self.register_parameter(str(self._index(idx)), _as_parameter(value, "ParameterList"))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __iadd__(self, values: Iterable[Any]) -> "ParameterList":
        return self.extend(values)

    def append(self, value: Any) -> "ParameterList":
        self.register_parameter(str(len(self)), _as_parameter(value, "ParameterList.append"))
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        for v in check_sequence(values, "values", "ParameterList", "an iterable of parameters", exclude=(Tensor,)):
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"({i}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                         for i, p in enumerate(self))

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ParameterList has no forward(); use its entries in your own forward")


class ParameterDict(Module):
    """A dict of named parameters (keys are the names in the state dict)."""

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        if not isinstance(key, str) or key not in self._parameters:
            raise KeyError(f"ParameterDict has no parameter {key!r} (keys: {list(self._parameters)})")
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, _as_parameter(value, f"ParameterDict[{key!r}]"))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: str) -> bool:
        return key in self._parameters

    def keys(self) -> Iterable[str]:
        return self._parameters.keys()

    def values(self) -> Iterable[Parameter]:
        return self._parameters.values()

    def items(self) -> Iterable[tuple[str, Parameter]]:
        return self._parameters.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._parameters.get(key, default)

    def pop(self, key: str) -> Parameter:
        return self._parameters.pop(key)

    def update(self, parameters: Any) -> None:
        items = parameters.items() if hasattr(parameters, "items") else check_sequence(
            parameters, "parameters", "ParameterDict.update", "a dict or (name, parameter) pairs", exclude=(Tensor,))
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[0], str):
                raise ArgumentError(f"ParameterDict.update: expected (name, parameter) pairs, got {describe(item)}")
            self[item[0]] = item[1]

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                         for k, p in self.items())

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ParameterDict has no forward(); index it in your own forward")
