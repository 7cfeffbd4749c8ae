"""The one config-dataclass -> CLI helper, and the three CLIs that use it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llm_deploy import flags


@dataclass
class Inner:
    width: int = 8
    """How wide."""


@dataclass
class Demo:
    name: str = "x"
    """The name; 100% documented."""
    rate: float = 0.5
    """A rate."""
    path: Path | None = None
    """Where."""
    on: bool = True
    """A switch."""
    items: list[str] = field(default_factory=lambda: ["a"])
    """Things."""
    inner: Inner = field(default_factory=Inner)
    """Nested."""


def parse(*argv: str, **kw: object) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    p = argparse.ArgumentParser()
    flags.add_flags(p, Demo, defaults=Demo(), **kw)  # type: ignore[arg-type]
    return p, p.parse_args(list(argv))


def test_help_comes_from_the_field_docstrings_with_defaults() -> None:
    p, _ = parse()
    text = " ".join(p.format_help().split())
    assert "The name; 100% documented. (default: x)" in text
    assert "How wide. (default: 8)" in text  # nested dataclass fields are flags too
    assert "--no-on" in text


def test_only_given_flags_change_the_base() -> None:
    _, ns = parse("--rate", "0.25", "--no-on", "--width", "3", "--path", "/tmp/p")
    cfg = flags.apply(Demo(name="base"), ns)
    assert (cfg.name, cfg.rate, cfg.on, cfg.inner.width) == ("base", 0.25, False, 3)
    assert cfg.path == Path("/tmp/p") and cfg.items == ["a"]
    assert flags.apply(Demo(), parse()[1]) == Demo()


def test_lists_repeat_and_replace_the_default() -> None:
    cfg = flags.apply(Demo(), parse("--items", "b", "c", "--items", "d")[1])
    assert cfg.items == ["b", "c", "d"]
    one = flags.apply(Demo(), parse("--items", "b", "--items", "c", one_value_per_flag=True)[1])
    assert one.items == ["b", "c"]
    with pytest.raises(SystemExit):
        parse("--items", "b", "c", one_value_per_flag=True)  # "c" is not a flag's value


def test_types_and_choices_are_checked_by_argparse() -> None:
    with pytest.raises(SystemExit):
        parse("--rate", "fast")
    with pytest.raises(SystemExit):
        parse("--name", "z", choices={"name": ("x", "y")})
    assert flags.apply(Demo(), parse("--name", "y", choices={"name": ("x", "y")})[1]).name == "y"


def test_train_flags_reach_the_nested_shape_over_the_preset() -> None:
    from train.cli import build_parser, config_from_args
    from train.config import default

    ns = build_parser().parse_args(
        ["fit", "--preset", "default", "--out", "o", "--hidden-size", "96"]
    )
    cfg = config_from_args(ns)
    assert cfg.model.hidden_size == 96
    assert cfg.model.num_layers == default().model.num_layers and cfg.steps == default().steps


def test_quantize_flags_keep_their_defaults_unless_given() -> None:
    from quantize.cli import build_parser, config_from_args
    from quantize.config import QuantizeConfig

    ns = build_parser().parse_args(["m", "--out", "o", "--no-act-order", "--ignore", "a", "b"])
    cfg = config_from_args(ns)
    assert cfg == QuantizeConfig(act_order=False, ignore=["a", "b"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["m", "--out", "o", "--scheme", "w3a3"])
