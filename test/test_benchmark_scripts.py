"""The transport and JPEG benchmarks run end to end and report what they measured (tiny runs).

These check that the scripts work and that their JSON holds real measurements; the numbers
themselves are read by people (docs/transport.md), never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, tmp_path: Path) -> dict[str, object]:
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / script), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, object] = json.loads(out.read_text())
    assert json.loads(done.stdout) == report  # the same JSON on stdout
    return report


def test_transport_benchmark_delivers_frames_with_the_shipped_setup(tmp_path: Path) -> None:
    report = _run(
        "bench_transport.py",
        *("--frames", "20", "--sizes", "640x480", "--formats", "raw", "--paths", "serialized"),
        *("--configs", "shipped", "--plot", str(tmp_path / "plot.png")),
        tmp_path=tmp_path,
    )
    cases = report["cases"]
    assert isinstance(cases, list) and len(cases) == 2  # RELIABLE and BEST_EFFORT
    for case in cases:
        assert case["config"] == "shipped" and case["sent"] == 20
        assert case["received"] >= 15, case  # shared memory: none should be lost
        assert 0 < case["delivery_ms_p50"] <= case["pixels_ms_p50"], case
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_jpeg_benchmark_times_opencv_and_explains_missing_gpu_decoders(tmp_path: Path) -> None:
    report = _run(
        "bench_jpeg_decode.py",
        *("--iterations", "3", "--sizes", "640x480"),
        tmp_path=tmp_path,
    )
    results = report["results"]
    assert isinstance(results, list)
    by_name = {r["decoder"]: r for r in results}
    assert by_name["opencv"]["ms_p50"] > 0 and by_name["opencv"]["jpeg_bytes"] > 10_000
    unavailable = report["unavailable"]
    assert isinstance(unavailable, dict)
    for name in ("nvimgcodec", "nvimgcodec_on_device", "torchvision_cuda"):
        assert (name in by_name) != (name in unavailable), name  # timed, or said why not
