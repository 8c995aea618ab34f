from pathlib import Path

from perfharness.site.fingerprints import fingerprint_history, merge_fingerprints, read_fingerprint, write_fingerprint

CPU = {"cpu_model": "x", "gpu_model": None, "gpu_unavailable_reason": "no NVIDIA GPU"}
GPU = {"cpu_model": "y", "gpu_model": "NVIDIA H200", "cuda_driver_version": "12.4"}


def test_merge_is_a_time_ordered_union_and_idempotent(tmp_path: Path) -> None:
    a, b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    pa = write_fingerprint(a, "m", CPU)
    pb = write_fingerprint(b, "m", GPU)
    target = dest / "m" / "fingerprint.jsonl"
    assert merge_fingerprints([pa, pb], target) is True
    records = fingerprint_history(target)
    assert [r["fingerprint"] for r in records] in ([CPU, GPU], [GPU, CPU])
    assert records == sorted(records, key=lambda r: r["recorded_at"])
    assert merge_fingerprints([pa, pb], target) is False  # nothing new: the file is left alone
    assert read_fingerprint(dest, "m") is not None


def test_bad_lines_are_skipped(tmp_path: Path) -> None:
    path = write_fingerprint(tmp_path, "m", CPU)
    with path.open("a") as fh:
        fh.write("{truncated\n")
    assert [r["fingerprint"] for r in fingerprint_history(path)] == [CPU]
