"""The project's own pages: the README's links lead somewhere, and the
test catalogue is the one the tests' docstrings give."""

import re
import sys

import pytest

from wc import TOP, run

pytestmark = pytest.mark.quick


def test_readme_links_resolve():
    """every relative link in README.md names a file of the repository"""
    readme = (TOP / "README.md").read_text()
    links = [link.split("#")[0] for link in
             re.findall(r"\]\(([^)]+)\)", readme)
             if not re.match(r"[a-z]+:", link)]
    assert links, "no links found: the pattern is wrong"
    missing = [link for link in links if not (TOP / link).is_file()]
    assert not missing, missing


def test_docs_catalogue_current(tmp_path):
    """project/docs/tests.md is what `pytest --catalogue` writes from the
    tests' docstrings today (regenerate it when a test changes)"""
    fresh = tmp_path / "tests.md"
    r = run([sys.executable, "-m", "pytest", "-q", "--catalogue", str(fresh),
             str(TOP / "project" / "tests")])
    assert r.returncode == 0, r.stdout
    committed = (TOP / "project" / "docs" / "tests.md").read_text()
    assert fresh.read_text() == committed, \
        "stale: /usr/bin/python3 -m pytest project/tests --catalogue " \
        "project/docs/tests.md"
