"""The docs cannot drift from the code: generated parts match it, examples validate, links resolve."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab import docsgen
from labsettings import Settings
from noether.spec import ExperimentSpec, parse_spec

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")])


def test_generated_docs_match_the_code():
    """What CI checks: `python -m lab.docsgen --check` finds nothing stale (run `make docs` if it does)."""
    proc = subprocess.run(
        [sys.executable, "-m", "lab.docsgen", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"generated docs are stale; run `make docs`:\n{proc.stderr}"


@pytest.fixture
def tree(tmp_path):
    """A copy of the generated files, to break on purpose."""
    for target in docsgen.TARGETS:
        src = ROOT / target.path
        if src.exists():
            (tmp_path / target.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, tmp_path / target.path)
    return tmp_path


def test_check_names_the_stale_file_and_write_repairs_it(tree, capsys):
    ops = tree / "docs/operations.md"
    ops.write_text(ops.read_text().replace("| `NOETHER_PORT` |", "| `NOETHER_PORT_OLD` |"))
    assert docsgen.main(["--check", "--root", str(tree)]) == 1
    err = capsys.readouterr().err
    assert "stale: docs/operations.md" in err and "spec.md" not in err
    assert docsgen.main(["--write", "--root", str(tree)]) == 0
    assert docsgen.main(["--check", "--root", str(tree)]) == 0
    assert ops.read_text() == (ROOT / "docs/operations.md").read_text()


def test_prose_outside_the_markers_is_kept(tree):
    spec = tree / "docs/spec.md"
    text = spec.read_text()
    edited = text.replace("# The experiment spec", "# The experiment spec\n\nA hand-written line.", 1)
    spec.write_text(edited)
    assert docsgen.main(["--write", "--root", str(tree)]) == 0
    assert spec.read_text() == edited


def test_missing_markers_are_an_error(tree, capsys):
    env = tree / ".env.example"
    env.write_text(env.read_text().replace("# END GENERATED settings", ""))
    assert docsgen.main(["--check", "--root", str(tree)]) == 1
    assert ".env.example: missing the marker lines" in capsys.readouterr().err


def test_settings_table_has_every_setting_with_its_default():
    table = docsgen.settings_table()
    for name, field in Settings.model_fields.items():
        row = next((r for r in table.splitlines() if r.startswith(f"| `NOETHER_{name.upper()}` |")), None)
        assert row is not None, name
        default = field.get_default(call_default_factory=True)
        if default is not None:
            assert str(default if not isinstance(default, list | bool) else json.dumps(default)) in row, (name, row)


def _sections(reference: str) -> dict[str, str]:
    parts = re.split(r'^<a id="spec-([a-z0-9]+)"></a>$', reference, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_spec_reference_lists_every_field_of_every_model():
    schema = ExperimentSpec.model_json_schema()
    sections = _sections(docsgen.spec_reference())
    models = {"ExperimentSpec": schema, **schema["$defs"]}
    assert set(sections) == {m.lower() for m in models}
    for model, node in models.items():
        for field in node["properties"]:
            assert re.search(rf"^\| `{field}` \|", sections[model.lower()], re.M), f"{model}.{field} missing"


def test_spec_reference_states_bounds_and_defaults():
    sections = _sections(docsgen.spec_reference())
    steps = next(r for r in sections["experimentspec"].splitlines() if r.startswith("| `steps` |"))
    assert "`1000`" in steps and "1 <= x <= 1000000" in steps
    widths = next(r for r in sections["mlpspec"].splitlines() if r.startswith("| `widths` |"))
    assert "required" in widths and "each 1 <= x <= 4096" in widths
    lr = next(r for r in sections["gd"].splitlines() if r.startswith("| `lr` |"))
    assert "0 < x <= 100" in lr and "learning rate" in lr


def _code_blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", path.read_text(), re.M | re.S)


def test_spec_examples_in_the_docs_are_valid_specs():
    path = ROOT / "docs/spec.md"
    blocks = [json.loads(b) for b in _code_blocks(path, "json")]
    blocks += [yaml.safe_load(b) for b in _code_blocks(path, "yaml")]
    assert len(blocks) >= 4
    for spec in blocks:
        parse_spec(spec)  # raises SpecError naming the field


def test_spec_error_examples_are_what_the_validator_says():
    """The error lines quoted in docs/spec.md are real messages of the validator."""
    text = (ROOT / "docs/spec.md").read_text()
    quoted = _code_blocks(ROOT / "docs/spec.md", "text")[0].splitlines()
    cases = [
        {"potential": {"kind": "sphere"}, "steps": 5_000_000},
        {"model": {"widths": [60, 10]}, "data": {"kind": "digits"}},
        {"model": {"widths": [64, 10]}, "data": {"kind": "digits"}, "dynamics": {"kind": "sgd", "batch_size": 5000}},
        {"potential": {"kind": "sphere"}, "steps": 1_000_000},
    ]
    from noether.spec import SpecError

    for case, line in zip(cases, quoted, strict=True):
        with pytest.raises(SpecError) as exc:
            parse_spec(case)
        assert line in exc.value.lines, (line, exc.value.lines)
    assert "k2 must be > 0 (got k2(0.1) = -0.9)" in text
    with pytest.raises(SpecError, match=re.escape("k2 must be > 0 (got k2(0.1) = -0.9)")):
        parse_spec({"potential": {"kind": "sphere"}, "dynamics": {"kind": "general", "k2": "t-1", "t0": 0.1}})


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    """Every relative link of a doc names a file of the repository (the README's screenshot included)."""
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
            continue
        assert (path.parent / target).exists(), f"{path.name} links to {target}, which does not exist"
