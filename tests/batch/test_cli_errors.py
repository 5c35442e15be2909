"""`genoteam batch` refuses what cannot work before it writes anything, and says what to do."""

from __future__ import annotations

import pytest

from genoteam.cli import main
from tests.batch.conftest import batch_argv


def _run(corpus, output, *extra, capsys) -> tuple[int, str]:
    argv = batch_argv(corpus, output, *extra)[3:]  # after "python -m genoteam"
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "problem", "what_to_do"),
    [
        (("--cluster", "yarn"), "--cluster 'yarn' is not a cluster", "ray://HOST:PORT"),
        (("--questions", "Bile_Duct_Cancer:Gender"), "names no question of the task file", "TRAIT:CONDITION"),
        (
            ("--reference", "/nonexistent/ref"),
            "reference folder /nonexistent/ref does not exist",
            "GenoTEX output",
        ),
    ],
)
def test_a_wrong_argument_is_refused_before_any_work(corpus, tmp_path, capsys, extra, problem, what_to_do):
    code, err = _run(corpus, tmp_path / "batch", *extra, capsys=capsys)
    assert code == 1
    assert problem in err and "what to do" in err and what_to_do in err
    assert not (tmp_path / "batch").exists()


def test_an_output_folder_holding_other_work_is_refused(corpus, tmp_path, capsys):
    output = tmp_path / "results"
    output.mkdir()
    (output / "notes.txt").write_text("someone's work")
    code, err = _run(corpus, output, capsys=capsys)
    assert code == 1 and "is not empty and holds no batch" in err and "new --output" in err
    assert sorted(p.name for p in output.iterdir()) == ["notes.txt"]


def test_a_missing_task_file_is_named(corpus, tmp_path, capsys):
    argv = batch_argv(corpus, tmp_path / "batch")[3:]
    argv[argv.index("--task-info") + 1] = str(tmp_path / "nope.json")
    assert main(argv) == 1
    assert f"task file {tmp_path / 'nope.json'} does not exist" in capsys.readouterr().err


def test_a_wrong_sandbox_setting_is_refused_before_any_work(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENOTEAM_SANDBOX", "vm")
    argv = batch_argv(corpus, tmp_path / "batch")[3:]
    argv[argv.index("reference")] = "team"
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "GENOTEAM_SANDBOX='vm': not a valid setting" in err and "auto, docker or local" in err
    assert not (tmp_path / "batch").exists()
