"""The one registry pattern: snake_case names, clear errors for unknown names, no silent overwrite."""

import pytest

from segpipe.errors import ConfigError
from segpipe.utilities.registry import Registry


def test_registry_registers_finds_and_lists():
    things = Registry("thing", key="things.name")

    @things.register("first_thing")
    def first():
        return 1

    assert things.get("first_thing") is first and things.names() == ["first_thing"] and "first_thing" in things
    with pytest.raises(ConfigError, match=r"unknown thing 'second' \('things.name'\)(?s:.*)first_thing"):
        things.get("second")
    with pytest.raises(ValueError, match="registered twice"):
        things.register("first_thing")(lambda: 2)
    things.register("first_thing")(first)  # the same object again is fine (a module imported twice)
    with pytest.raises(ValueError, match="snake_case"):
        things.register("FirstThing")
    things.unregister("first_thing")
    assert len(things) == 0
