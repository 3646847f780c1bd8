"""Build sadari's container images on a Docker engine, with no image registry needed.

    python images/build.py grader                 # the grading image (and the base image if missing)
    python images/build.py --offline grader       # from the wheelhouse only (air-gapped campus)
    python images/build.py --base-image my/python:3.11 grader

Every image starts FROM the `BASE_IMAGE` build argument: a Debian bookworm with python3, venv,
ca-certificates and tini. When that image is not on the engine and is the default name, it is made
here from Debian's packages (debootstrap + `docker import`), so nothing is pulled from a registry.
Python packages come from a wheelhouse folder (`pip download` on this machine, for the images'
Python 3.11.2 on x86_64 Linux) that the Dockerfiles install with `--no-index`: copy the folder to
an air-gapped network and build there with `--offline`.

Images trainees use (the single-user image, the track images, and the grading image whose kernel
runs their code) hold no instructor material: the track images get only their track's practice
notebooks (what the curriculum provisions into workspaces), never `assessments/` or rubrics; their
staged context is checked before the build (images/instructor_material.py), and each of them runs
the same check over its own file system as its last build step. Only the hub image (the service
and the grading workers) carries the assessment sources.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import instructor_material  # noqa: E402  (images/, beside this file)

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"
DEFAULT_BASE = "sadari/base:bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "tini")
DEBIAN_MIRROR = os.environ.get("SADARI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# The images' interpreter: Debian bookworm's python3. Wheels are chosen for it, not for the host.
IMAGE_PYTHON = "3.11.2"
PLATFORMS = (
    "manylinux_2_36_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
)
TRACKS = ("data-analysis", "product-manager", "azure-ai", "vision-ai")
LAB_REQUIREMENTS = ROOT / "labs" / "requirements"
CURRICULUM = ROOT / "labs" / "curriculum.yaml"
# the check every trainee-facing image runs as its last build step (staged at this context path)
CHECK = {"check/instructor_material.py": IMAGES / "instructor_material.py"}


class InstructorMaterial(RuntimeError):
    """A trainee-facing image would hold instructor material: it is not built."""


@dataclass(frozen=True)
class Target:
    """One image: its Dockerfile folder, what is staged into its build context (context path ->
    file or folder of the repository), build arguments, the targets it is built FROM, the track
    whose practice labs it carries, and whether trainees use it (then it must hold no instructor
    material: checked on the staged context and by the image's own last build step)."""

    folder: Path
    stage: dict[str, Path]
    args: dict[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    labs_of: str | None = None
    trainee_facing: bool = False
    dockerfile_stage: str | None = None  # build only up to this stage (`docker build --target`)
    # whether it installs sadari's own wheel (staged as `project/`): a target that does not must
    # not have it in its context, or each change to the code would change its inputs
    project: bool = True

    def staged(self) -> dict[str, Path]:
        """Everything staged into the context: `stage` and the track's practice labs."""
        return self.stage | (practice_labs(self.labs_of) if self.labs_of else {})


def practice_labs(track: str, curriculum: Path = CURRICULUM) -> dict[str, Path]:
    """The practice notebooks of a track's stages in the curriculum (what each server start
    provisions into a trainee's workspace), as context path `labs/<path>` -> file. Assessments
    (and rubrics) are never among them: they reach trainees only through the exchange."""
    import yaml  # PyYAML, one of sadari's dependencies: only track images need it here

    doc = yaml.safe_load(curriculum.read_text(encoding="utf-8")) or {}
    tracks = {t.get("id"): t for t in doc.get("tracks") or [] if isinstance(t, dict)}
    if track not in tracks:
        raise KeyError(f"track {track!r} is not in {curriculum}")
    out: dict[str, Path] = {}
    for stage, plan in (tracks[track].get("stages") or {}).items():
        for nb in (plan or {}).get("notebooks") or []:
            parts = PurePosixPath(nb).parts
            if parts[:1] != (track,) or ".." in parts or instructor_material.path_findings(parts):
                raise ValueError(
                    f"{curriculum}: {track}/{stage} lists {nb!r} as a practice notebook: "
                    f"practice labs are files of labs/{track}/ outside assessments/"
                )
            out[f"labs/{nb}"] = curriculum.parent / nb
    return out


def _labs_requirements() -> dict[str, Path]:
    # labs/requirements.txt includes labs/requirements/*.txt: staged with the same layout
    return {
        "requirements/labs/requirements.txt": ROOT / "labs" / "requirements.txt",
        "requirements/labs/requirements": LAB_REQUIREMENTS,
    }


def _targets() -> dict[str, Target]:
    targets = {
        "grader": Target(
            IMAGES / "grader",
            {"requirements/grader.txt": IMAGES / "grader" / "requirements.txt"}
            | _labs_requirements()
            | CHECK,
            trainee_facing=True,  # its kernel runs trainees' submissions
        ),
        "singleuser": Target(
            IMAGES / "singleuser",
            {
                "requirements/singleuser.txt": IMAGES / "singleuser" / "requirements.txt",
                "etc": IMAGES / "singleuser" / "etc",
            }
            | CHECK,
            trainee_facing=True,
        ),
        # the single-user image without sadari itself, what the track images' libraries are
        # installed FROM (cached across changes to sadari's code)
        "singleuser-deps": Target(
            IMAGES / "singleuser",
            {
                "requirements/singleuser.txt": IMAGES / "singleuser" / "requirements.txt",
                "etc": IMAGES / "singleuser" / "etc",
            }
            | CHECK,
            # never run by anyone: the images built FROM it (singleuser, lab-*) check themselves
            dockerfile_stage="deps",
            project=False,
        ),
        "hub": Target(
            IMAGES / "hub",
            {"requirements/hub.txt": IMAGES / "hub" / "requirements.txt", "labs": ROOT / "labs"},
        ),
    }
    for track in TRACKS:
        targets[f"lab-{track}"] = Target(
            IMAGES / "lab",
            _labs_requirements() | CHECK,
            args={"TRACK": track, "SINGLEUSER_DEPS_IMAGE": "{singleuser-deps}"},
            needs=("singleuser-deps",),
            labs_of=track,  # its practice labs only (never assessments/ or rubrics)
            trainee_facing=True,
        )
    return targets


TARGETS = _targets()


def with_needs(names: list[str]) -> list[str]:
    """`names` and the targets they are built FROM, each once, dependencies first."""
    out: list[str] = []
    for name in names:
        for need in (*TARGETS[name].needs, name):
            if need not in out:
                out.append(need)
    return out


def version() -> str:
    """The project's version, used as the images' tag."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def image_name(target: str) -> str:
    """The name:tag a target is built as."""
    return f"sadari/{target}:{version()}"


def log(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def docker(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def image_exists(name: str) -> bool:
    return docker("image", "inspect", name, capture_output=True).returncode == 0


def image_id(name: str) -> str | None:
    """The id of the image `name` names now, or None."""
    run = docker("image", "inspect", "--format", "{{.Id}}", name, capture_output=True)
    return run.stdout.strip() or None if run.returncode == 0 else None


def build_base(name: str = DEFAULT_BASE) -> None:
    """A minimal Debian bookworm with python3, venv, CA certificates and tini, from Debian's
    packages (debootstrap, then `docker import`)."""
    if not shutil.which("debootstrap"):
        sys.exit("debootstrap is not installed (Debian package: debootstrap)")
    with tempfile.TemporaryDirectory(prefix="sadari-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"debootstrap bookworm into {rootfs} (about a minute)")
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                "bookworm",
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        log(f"docker import {name}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "--change", "ENV LANG=C.UTF-8", "-", name],
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait():
            sys.exit("tar of the base file system failed")


# Dependencies published only as source (pure Python): built into wheels on this machine first,
# since the download below takes binary wheels only (for the images' Python, not the host's).
SOURCE_ONLY = ("onetimepass==1.0.1",)  # of jupyterhub-nativeauthenticator (hub image)


def requirements_digest(requirements: list[Path]) -> str:
    """A digest of the requirement files, those they include (`-r`) and what the download is
    for (the images' Python and platforms)."""
    h = hashlib.sha256(repr((IMAGE_PYTHON, PLATFORMS, SOURCE_ONLY)).encode())
    todo, seen = list(requirements), set()
    while todo:
        path = todo.pop(0).resolve()
        if path in seen:
            continue
        seen.add(path)
        text = path.read_text(encoding="utf-8")
        h.update(f"{path.name}\0{text}\0".encode())
        for line in text.splitlines():
            if line.strip().startswith("-r "):
                todo.append(path.parent / line.strip()[3:].strip())
    return h.hexdigest()


def fill_wheelhouse(wheelhouse: Path, requirements: list[Path]) -> None:
    """Download the wheels the images need into `wheelhouse` (binary wheels for the images'
    Python, whatever the host's Python is), unless it already holds what these same requirement
    files asked for: a stamp beside it (not in it: it is copied into build contexts) records the
    requirements of the last complete download."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    stamp = wheelhouse.with_name(wheelhouse.name + ".requirements")
    digest = requirements_digest(requirements)
    done = stamp.read_text().split() if stamp.exists() else []
    if digest in done:
        log(f"{wheelhouse} holds what these requirements pin: nothing to download")
        return
    for spec in SOURCE_ONLY:
        name = spec.split("==")[0]
        if not any(wheelhouse.glob(f"{name}-{spec.split('==')[1]}-py*.whl")):
            log(f"pip wheel {spec} (published as source only)")
            _pip_wheel(spec, wheelhouse, check=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    reqs = [arg for r in requirements for arg in ("-r", str(r))]
    log(f"pip download into {wheelhouse}")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--dest",
            str(wheelhouse),
            "--only-binary=:all:",
            "--find-links",
            str(wheelhouse),
            "--implementation",
            "cp",
            "--python-version",
            IMAGE_PYTHON,
            "--abi",
            "cp311",
            *platforms,
            *reqs,
        ],
        check=True,
    )
    stamp.write_text("\n".join([*done, digest]) + "\n")


def requirement_files(targets: list[str]) -> list[Path]:
    """The top-level requirement files the targets install (labs/requirements.txt includes
    every track's)."""
    files: list[Path] = []
    for target in targets:
        for staged, source in TARGETS[target].stage.items():
            if staged.startswith("requirements/") and source.is_file() and source not in files:
                files.append(source)
    return files


def project_wheel(dest: Path) -> None:
    """A wheel of sadari itself in `dest` (byte-identical for identical code, so the image layer
    that installs it comes from the build cache until the code changes)."""
    import fcntl

    dest.mkdir(parents=True)
    with (ROOT / "build.lock").open("w") as lock:  # one wheel build at a time in this checkout
        fcntl.flock(lock, fcntl.LOCK_EX)
        # setuptools copies the sources into build/ and leaves them there: a file since deleted
        # would still be in the wheel (and in every image) without this
        shutil.rmtree(ROOT / "build", ignore_errors=True)
        run = _pip_wheel(
            str(ROOT),
            dest,
            capture_output=True,
            text=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"},
        )
    if run.returncode:
        sys.exit(f"pip wheel of sadari failed:\n{run.stdout[-4000:]}{run.stderr[-4000:]}")


def _pip_wheel(target: str, dest: Path, **run: Any) -> subprocess.CompletedProcess[str]:
    """`pip wheel` of one requirement or project, without its dependencies, into `dest`."""
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    return subprocess.run([*command, "--no-deps", "--wheel-dir", str(dest), target], **run)


def _stage(context: Path, staged: str, source: Path) -> None:
    dest = context / staged
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(
            source,
            dest,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"),
        )
    else:
        shutil.copy(source, dest)


def stage_files(target: str, context: Path) -> None:
    """The target's Dockerfile and staged files (not its wheels) in `context`."""
    spec = TARGETS[target]
    context.mkdir(parents=True, exist_ok=True)
    shutil.copy(spec.folder / "Dockerfile", context / "Dockerfile")
    for staged, source in spec.staged().items():
        _stage(context, staged, source)


def check_context(target: str, context: Path) -> list[instructor_material.Finding]:
    """Instructor material in the staged context of a trainee-facing target (none to look for in
    the hub image's, which carries the assessment sources by design)."""
    if not TARGETS[target].trainee_facing:
        return []
    return instructor_material.scan_context(context)


def stage_project(context: Path, project: Path | None = None) -> None:
    """sadari's own wheel as `project/`: copied from `project` (a folder holding it), else built."""
    if project is None:
        project_wheel(context / "project")
    else:
        shutil.copytree(project, context / "project")


def stage_wheels(context: Path, wheelhouse: Path) -> None:
    """The wheelhouse as `wheelhouse/` (hard links if it can)."""
    try:
        shutil.copytree(wheelhouse, context / "wheelhouse", copy_function=os.link)
    except OSError:  # another file system: copy instead of linking
        shutil.rmtree(context / "wheelhouse", ignore_errors=True)
        shutil.copytree(wheelhouse, context / "wheelhouse")


def build_args(target: str, base_image: str) -> dict[str, str]:
    """The target's build arguments (BASE_IMAGE and its own, image names filled in)."""
    args = {"BASE_IMAGE": base_image}
    for key, value in TARGETS[target].args.items():
        args[key] = value.format(**{t: image_name(t) for t in TARGETS})
    return args


INPUTS_LABEL = "org.sadari.inputs"


def inputs_digest(target: str, context: Path, args: dict[str, str]) -> str:
    """A digest of everything a build of `target` reads: the staged context (the wheelhouse's
    wheels by name and size: a wheel's name says its version), the build arguments and the ids of
    the images it is built FROM."""
    h = hashlib.sha256(repr((sorted(args.items()), TARGETS[target].dockerfile_stage)).encode())
    for image in (args["BASE_IMAGE"], *(image_name(t) for t in TARGETS[target].needs)):
        h.update(f"{image}={image_id(image)}\0".encode())
    for path in sorted(context.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(context).as_posix()
        if rel.startswith("wheelhouse/"):
            h.update(f"{rel}\0{path.stat().st_size}\0".encode())
        else:
            h.update(f"{rel}\0{path.stat().st_mode & 0o111}\0".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def built_from(name: str) -> str | None:
    """The inputs digest the image `name` was built from (its label), or None."""
    run = docker(
        "image",
        "inspect",
        "--format",
        f'{{{{index .Config.Labels "{INPUTS_LABEL}"}}}}',
        name,
        capture_output=True,
    )
    return run.stdout.strip() or None if run.returncode == 0 else None


def build(target: str, base_image: str, wheelhouse: Path, project: Path | None = None) -> str:
    """Build one target from a staged context (Dockerfile, requirements, wheelhouse, labs); a
    trainee-facing target whose context holds instructor material is refused before building.
    An image already built from the same inputs (its label says so) is kept as it is: no
    context is sent to the engine."""
    name = image_name(target)
    with tempfile.TemporaryDirectory(prefix=f"sadari-build-{target}-") as tmp:
        context = Path(tmp)
        stage_files(target, context)
        findings = check_context(target, context)
        if findings:
            raise InstructorMaterial(
                f"{name} is not built: trainees would get instructor material (assessments "
                "reach them only through the exchange):\n" + instructor_material.report(findings)
            )
        if TARGETS[target].project:
            stage_project(context, project)
        stage_wheels(context, wheelhouse)
        args = build_args(target, base_image)
        digest = inputs_digest(target, context, args)
        if built_from(name) == digest:
            log(f"{name} is up to date (built from the same inputs)")
            return name
        flags = [a for k, v in args.items() for a in ("--build-arg", f"{k}={v}")]
        flags += ["--label", f"{INPUTS_LABEL}={digest}"]
        if TARGETS[target].dockerfile_stage:
            flags += ["--target", str(TARGETS[target].dockerfile_stage)]
        before = image_id(name)
        log(f"docker build {name} ({', '.join(f'{k}={v}' for k, v in args.items())})")
        run = docker(
            "build",
            "--quiet",
            *flags,
            "--label",
            f"org.opencontainers.image.version={version()}",
            "--tag",
            name,
            str(context),
            capture_output=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        if run.returncode:
            sys.exit(f"docker build {name} failed:\n{run.stdout[-4000:]}{run.stderr[-4000:]}")
    after = image_id(name)
    if before and before != after:
        # the image this tag named before is superseded: without this every rebuild left a
        # nameless copy behind (gigabytes per build of the track images). Still used by a
        # container or as another image's parent: docker keeps it and says so, which is fine.
        docker("image", "rm", before, capture_output=True)
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="+", choices=sorted(TARGETS))
    parser.add_argument("--base-image", default=DEFAULT_BASE, help="the BASE_IMAGE build argument")
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=Path(
            os.environ.get("SADARI_WHEELHOUSE", Path.home() / ".cache" / "sadari" / "wheelhouse")
        ),
        help="folder of wheels the images install from ($SADARI_WHEELHOUSE)",
    )
    parser.add_argument(
        "--offline", action="store_true", help="download nothing: use the wheelhouse as it is"
    )
    args = parser.parse_args(argv)
    if docker("info", capture_output=True).returncode:
        sys.exit("no Docker engine answers (`docker info` failed): start dockerd first")
    if not image_exists(args.base_image):
        if args.base_image != DEFAULT_BASE:
            sys.exit(f"base image {args.base_image} is not on this Docker engine")
        build_base(args.base_image)
    targets = with_needs(args.targets)
    if not args.offline:
        fill_wheelhouse(args.wheelhouse, requirement_files(targets))
    with tempfile.TemporaryDirectory(prefix="sadari-wheel-") as tmp:
        project = Path(tmp) / "project"
        project_wheel(project)  # once for every target
        for target in targets:
            try:
                print(build(target, args.base_image, args.wheelhouse, project), flush=True)
            except InstructorMaterial as e:
                sys.exit(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
