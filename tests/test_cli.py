import subprocess
import sys

from genoteam import __version__
from genoteam.cli import main


def test_version_is_printed_by_the_console_entry():
    out = subprocess.run([sys.executable, "-m", "genoteam", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip() == f"genoteam {__version__}"


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: genoteam" in capsys.readouterr().out
