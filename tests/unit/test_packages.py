"""core/packages.py: an assessment's declared packages against this environment and the track's
image pins."""

from __future__ import annotations

from sadari.hub.core.packages import (
    check_requirement,
    image_requirements,
    parse_requirements,
    track_of_image,
)

PINS, INCLUDES = parse_requirements(
    "# comment\n-r common.txt\nnumpy==2.3.5  # arrays\nscikit_learn==1.7.2\nrich>=13\n--index-url x\n",
    "labs/requirements/data-analysis.txt",
)
BY_NAME = {p.name: p for p in PINS}


def test_parse_requirements() -> None:
    assert INCLUDES == ["labs/requirements/common.txt"]
    assert [(p.name, p.line, p.version) for p in PINS] == [
        ("numpy", 3, "2.3.5"),
        ("scikit-learn", 4, "1.7.2"),
        ("rich", 5, None),
    ]


def test_image_requirements() -> None:
    assert image_requirements("sadari/lab-vision-ai:0.1.0") == (
        "labs/requirements/vision-ai.txt",
        "images/singleuser/requirements.txt",
    )
    assert image_requirements("registry.example/x/lab-data-analysis") is not None
    assert image_requirements("jupyter/scipy-notebook:latest") is None
    assert track_of_image("sadari/lab-azure-ai:1") == "azure-ai"


def test_verdicts() -> None:
    installed = {"numpy": "2.3.5", "scikit-learn": "1.7.2", "pandas": "2.3.3"}
    ok = check_requirement("numpy>=2", installed, BY_NAME)
    assert (ok.here, ok.in_image) == ("ok", "ok")
    assert ok.image_detail == "numpy==2.3.5 at labs/requirements/data-analysis.txt:3"
    assert check_requirement("Scikit_Learn", installed, BY_NAME).in_image == "ok"
    missing = check_requirement("surely-not-installed-pkg", installed, BY_NAME)
    assert (missing.here, missing.in_image) == ("missing", "missing")
    old = check_requirement("numpy<2", installed, BY_NAME)
    assert (old.here, old.in_image) == ("version", "version")
    assert "needs <2" in old.here_detail and old.image_detail.endswith(", not <2")
    assert check_requirement("rich>=14", {}, BY_NAME).in_image == "ok"  # unpinned: listed
    assert check_requirement("pandas", installed, None).in_image == "unknown"
    assert check_requirement("numpy; python_version < '3'", {}, BY_NAME).here == "n/a"
    assert check_requirement("not a requirement!", {}, BY_NAME).here == "invalid"
