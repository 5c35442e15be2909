"""Every GenoTEX trait name is accepted everywhere a trait is named: one pattern, many doors."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter, ValidationError

from genoteam.pipeline.api import AnalysisRequest
from genoteam.server.params import Trait
from genoteam.synthetic import SynthConfig
from genoteam.toolkit.errors import GenoteamError


def test_every_genotex_trait_passes_the_request_the_mcp_tools_and_the_generator(task_info_path):
    traits = list(json.loads(task_info_path.read_text()))
    unusual = [t for t in traits if not t.isascii() or "(" in t]
    assert unusual, "the task file should hold names with parentheses or non-ASCII letters"
    typed = TypeAdapter(Trait)
    for trait in traits:
        AnalysisRequest(trait=trait)
        typed.validate_python(trait)
        typed.validate_python(trait.replace("_", " "))  # as a person types it
        SynthConfig(trait=trait).resolved()


@pytest.mark.parametrize("bad", ["../etc", "a/b", "x.csv", "_hidden", "", "a" * 101])
def test_path_like_names_are_refused_at_every_door(bad):
    with pytest.raises(ValidationError):
        AnalysisRequest(trait=bad)
    with pytest.raises(ValidationError):
        TypeAdapter(Trait).validate_python(bad)
    with pytest.raises(GenoteamError):
        SynthConfig(trait=bad).resolved()
