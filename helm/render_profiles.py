"""Write helm/sadari/values-profiles.yaml: the KubeSpawner profiles of labs/curriculum.yaml.

    python helm/render_profiles.py            # rewrite the values file from the curriculum
    python helm/render_profiles.py --check    # exit 1 if it is out of date (CI)
    python helm/render_profiles.py --gpu-node-selector cloud.google.com/gke-accelerator=nvidia-l4

The profiles themselves come from `sadari.hub.core.profiles` (one per track × stage, resolved by
the spawn policy); this script only renders them as chart values. Pass the file to Helm with
`-f helm/sadari/values-profiles.yaml`, and render it again whenever the curriculum's images or
resources change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from sadari.hub.core.curriculum import parse_curriculum
from sadari.hub.core.profiles import ProfileOptions, chart_values

ROOT = Path(__file__).resolve().parent.parent
CURRICULUM = ROOT / "labs" / "curriculum.yaml"
OUTPUT = ROOT / "helm" / "sadari" / "values-profiles.yaml"

HEADER = """\
# KubeSpawner profiles, one per track and stage: GENERATED from labs/curriculum.yaml by
# helm/render_profiles.py; do not edit, render again. Use: helm ... -f helm/sadari/values-profiles.yaml
# Staff pick a profile on the spawn page; trainees get the one of their hub groups (the policy).
"""


def render(curriculum_text: str, options: ProfileOptions | None = None) -> str:
    """The values file for the curriculum text (header comment + YAML)."""
    values = chart_values(parse_curriculum(curriculum_text, str(CURRICULUM)), options)
    body = yaml.safe_dump(values, allow_unicode=True, sort_keys=False, width=100)
    return HEADER + body


def _selector(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--gpu-node-selector wants KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the values file; 0 when it is up to date afterwards."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--curriculum", type=Path, default=CURRICULUM)
    p.add_argument("--output", type=Path, default=OUTPUT)
    p.add_argument("--check", action="store_true", help="only report whether the file is current")
    p.add_argument(
        "--gpu-node-selector",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="node label GPU servers must run on (repeatable)",
    )
    args = p.parse_args(argv)
    options = ProfileOptions(gpu_node_selector=_selector(args.gpu_node_selector))
    text = render(args.curriculum.read_text(encoding="utf-8"), options)
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(
                f"{args.output} is out of date: run python helm/render_profiles.py", file=sys.stderr
            )
            return 1
        return 0
    if current != text:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
