"""Load a client YAML file with safe_load's types and a cap on what aliases may repeat.

YAML anchors and aliases (``&a`` / ``*a``) let a 450-byte file stand for billions of values
(the "billion laughs" alias bomb): PyYAML shares the aliased objects, so the load is cheap, but
anything that walks the configuration afterwards (validation, the fingerprint's JSON dump)
expands it and runs out of memory or time. This loader counts the values each alias repeats,
as the document would have them written out, and refuses the file once aliases add more than
ALIAS_LIMIT of them (or an alias sits inside its own anchor, which never ends). An anchor used
a few times to share a list of statuses stays well below the cap.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent

ALIAS_LIMIT = 1000  # values (scalars, lists, mappings) that aliases may add to a document


class AliasLimitError(yaml.YAMLError):
    """Aliases repeat more values than ALIAS_LIMIT, or an alias refers to its own anchor."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        self.problem = problem
        self.line = mark.line + 1 if mark is not None else None
        where = f" (line {self.line})" if self.line is not None else ""
        super().__init__(problem + where)


class CappedSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader whose aliases may add at most ALIAS_LIMIT values to a document."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> values in the node, aliases written out
        self._open: set[str] = set()  # anchors whose node is still being composed
        self._added = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """As PyYAML's, counting what each alias repeats against ALIAS_LIMIT."""
        if self.check_event(AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open:
                raise AliasLimitError(f"the alias *{event.anchor} is inside its own anchor &{event.anchor}, "
                                      "so it never ends", event.start_mark)
            node = super().compose_node(parent, index)
            self._added += self._size(node)
            if self._added > ALIAS_LIMIT:
                raise AliasLimitError(f"YAML aliases (*{event.anchor} and others) repeat more than "
                                      f"{ALIAS_LIMIT:,} values", event.start_mark)
            return node
        anchor = self.peek_event().anchor
        if anchor is not None:
            self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.discard(anchor)

    def _size(self, node: yaml.Node) -> int:
        """Values in a composed node as written out (memoised: shared nodes are counted once each)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.ScalarNode):
            size = 1
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._size(item) for item in node.value)
        else:
            size = 1 + sum(self._size(key) + self._size(value) for key, value in node.value)
        size = min(size, ALIAS_LIMIT + 1)  # enough to refuse; keeps the sums small
        self._sizes[id(node)] = size
        return size

    def compose_document(self) -> Any:
        """As PyYAML's, with the counts reset for the next document."""
        try:
            return super().compose_document()
        finally:
            self._sizes, self._open, self._added = {}, set(), 0


def load_yaml(text: str) -> Any:
    """yaml.safe_load with aliases capped (raises AliasLimitError, a yaml.YAMLError)."""
    return yaml.load(text, Loader=CappedSafeLoader)


__all__ = ["ALIAS_LIMIT", "AliasLimitError", "CappedSafeLoader", "load_yaml"]
