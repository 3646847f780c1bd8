"""The Python packages an assessment declares (`packages:`, PEP 508 requirements) against what is
there: the local grading environment and the track's image.

A track's image `…/lab-<name>:<tag>` is built by images/build.py from images/lab: the single-user
image (images/singleuser/requirements.txt) plus the track's pins (labs/requirements/<name>.txt,
whose `-r` includes it follows); the grading image installs every track's pins
(labs/requirements.txt). `image_requirements` names those files; `parse_requirements` reads one
file's pins; `check_requirement` gives one requirement's verdict here and in the image.

Pure: the caller reads the files and lists the installed distributions.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

SINGLEUSER_REQUIREMENTS = "images/singleuser/requirements.txt"
_LAB_IMAGE = re.compile(r"(?:^|/)lab-(?P<track>[a-z0-9][a-z0-9-]*)(?::[^/]*)?$")


@dataclass(frozen=True)
class Pin:
    """One line of a requirements file: the distribution's canonical name, its requirement and
    where it is written (file relative to the repository, line)."""

    name: str
    requirement: str
    file: str
    line: int

    @property
    def version(self) -> str | None:
        """The pinned version when the line pins one (`name==1.2.3`), else None."""
        spec = list(Requirement(self.requirement).specifier)
        if len(spec) == 1 and spec[0].operator in ("==", "==="):
            return spec[0].version
        return None


def parse_requirements(text: str, file: str) -> tuple[list[Pin], list[str]]:
    """The requirements of a pip requirements file and the files it includes with `-r`
    (relative to the repository, resolved against `file`'s folder). Options and lines pip would
    read but packaging cannot (URLs, editables) are skipped."""
    pins, includes = [], []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(?:-r|--requirement)\s*=?\s*(\S+)$", line)
        if m:
            includes.append(posixpath.normpath(posixpath.join(posixpath.dirname(file), m[1])))
            continue
        if line.startswith("-"):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        pins.append(Pin(canonicalize_name(req.name), line, file, n))
    return pins, includes


def image_requirements(image: str) -> tuple[str, ...] | None:
    """The requirements files (relative to the repository) an image is built from, the track's
    own first; None for an image this repository does not build (its pins are unknown)."""
    m = _LAB_IMAGE.search(image)
    if not m:
        return None
    return (f"labs/requirements/{m['track']}.txt", SINGLEUSER_REQUIREMENTS)


def track_of_image(image: str) -> str | None:
    """`sadari/lab-vision-ai:0.1.0` -> `vision-ai` (None if not a lab image)."""
    m = _LAB_IMAGE.search(image)
    return m["track"] if m else None


@dataclass(frozen=True)
class Verdict:
    """One requirement of an assessment, here and in the image.

    `here` / `in_image`: "ok", "missing", "version" (there, but not a version the requirement
    allows), "unknown" (the image's pins are not known), "n/a" (its environment marker excludes
    this platform) or "invalid" (not a PEP 508 requirement). `here_detail`/`image_detail` say
    what was found.
    """

    requirement: str
    here: str
    here_detail: str
    in_image: str
    image_detail: str


def _allows(req: Requirement, version: str) -> bool:
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return not req.specifier


def check_requirement(
    requirement: str, installed: Mapping[str, str], pins: Mapping[str, Pin] | None
) -> Verdict:
    """The verdict on `requirement` given the distributions `installed` here (canonical name ->
    version) and the image's `pins` (canonical name -> Pin; None: unknown image)."""
    try:
        req = Requirement(requirement)
    except InvalidRequirement as e:
        return Verdict(requirement, "invalid", str(e), "invalid", str(e))
    if req.marker is not None and not req.marker.evaluate():
        return Verdict(requirement, "n/a", "not for this platform", "n/a", "not for this platform")
    name = canonicalize_name(req.name)
    version = installed.get(name)
    if version is None:
        here, here_detail = "missing", "not installed"
    elif _allows(req, version):
        here, here_detail = "ok", f"{req.name} {version}"
    else:
        here, here_detail = "version", f"{req.name} {version} installed, needs {req.specifier}"
    if pins is None:
        return Verdict(requirement, here, here_detail, "unknown", "its pins are not known here")
    pin = pins.get(name)
    if pin is None:
        return Verdict(requirement, here, here_detail, "missing", "not pinned")
    pinned = pin.version
    where = f"{pin.file}:{pin.line}"
    if pinned is None:
        return Verdict(requirement, here, here_detail, "ok", f"{pin.requirement} at {where}")
    if _allows(req, pinned):
        return Verdict(requirement, here, here_detail, "ok", f"{pin.requirement} at {where}")
    return Verdict(
        requirement,
        here,
        here_detail,
        "version",
        f"pinned {pin.requirement} at {where}, not {req.specifier}",
    )


def requirement_name(requirement: str) -> str | None:
    """The distribution a requirement names (None if it is not a valid requirement)."""
    try:
        return Requirement(requirement).name
    except InvalidRequirement:
        return None
