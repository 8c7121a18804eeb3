#!/usr/bin/env python3
"""Tests the merge step of run_all.sh (merge_measured.py, and the jq fallback where jq exists) on
measured files written by the programs' own writer (cs_microbench_selftest --sample). Needs no GPU.

usage: test_merge_measured.py PATH/TO/cs_microbench_selftest
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_ALL = os.path.join(HERE, "run_all.sh")
MERGE = os.path.join(HERE, "merge_measured.py")
SOURCE = "clustersim microbenchmarks (hardware_profiles/microbench/run_all.sh)"

sys.path.insert(0, HERE)
import merge_measured  # noqa: E402  (the module under test, beside this file)

failures = []


def expect(condition, what):
    if not condition:
        failures.append(what)
        print(f"FAILED: {what}", file=sys.stderr)


def write_sample(selftest, folder, program, gpu):
    path = os.path.join(folder, f"{program}-{gpu.replace(' ', '_')}.json")
    text = subprocess.run([selftest, "--sample", program, gpu], check=True,
                          capture_output=True, text=True).stdout
    json.loads(text)  # every program's file is valid JSON on its own
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
    return path


def check_merged(merged, label):
    expect(merged["format"] == "clustersim-measured/1", f"{label}: format")
    expect(merged["source"] == SOURCE, f"{label}: source")
    expect(len(merged["date"]) == 10, f"{label}: date")
    machine = merged["machine"]
    expect(machine["gpu"] == "NVIDIA H200", f"{label}: machine.gpu")
    expect(machine["sm_count"] == 132, f"{label}: machine.sm_count")
    expect(machine.get("cublas_version") == "13.1.0", f"{label}: cublas_version from cs_gemm")
    expect(machine.get("nccl_version") == "2.28.9", f"{label}: nccl_version from cs_nccl")
    expect(sorted(merged["programs"]) == ["cs_gemm", "cs_hbm", "cs_nccl"], f"{label}: programs")
    kinds = [case["kind"] for case in merged["cases"]]
    expect(kinds == ["gemm", "hbm", "launch_latency"], f"{label}: cases in file order, got {kinds}")
    expect(len(merged.get("skipped_cases", [])) == 1, f"{label}: skipped_cases")
    expect("quick" not in merged, f"{label}: not quick")


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    selftest = argv[0]
    expect(merge_measured.gpu_slug("NVIDIA H200") == "nvidia-h200", "slug of NVIDIA H200")
    expect(merge_measured.gpu_slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3",
           "slug with spaces")
    expect(merge_measured.gpu_slug("NVIDIA GH200 (480GB)") == "nvidia-gh200-480gb",
           "slug with punctuation")

    with tempfile.TemporaryDirectory() as folder:
        files = [write_sample(selftest, folder, program, "NVIDIA H200")
                 for program in ("cs_gemm", "cs_hbm", "cs_nccl")]
        out_dir = os.path.join(folder, "measured")
        os.mkdir(out_dir)

        # merge_measured.py names the file after the GPU and the date.
        result = subprocess.run([sys.executable, MERGE, "--source", SOURCE, "--date", "2026-11-28",
                                 "--output-dir", out_dir, *files], capture_output=True, text=True)
        expect(result.returncode == 0, f"merge exit status {result.returncode}: {result.stderr}")
        expected_path = os.path.join(out_dir, "nvidia-h200-2026-11-28.json")
        expect(result.stdout.strip() == expected_path, f"merge printed {result.stdout.strip()!r}")
        with open(expected_path, encoding="utf-8") as stream:
            merged = json.load(stream)
        check_merged(merged, "merge_measured.py")
        expect(merged["date"] == "2026-11-28", "--date")

        # Files from two different GPUs do not merge.
        other = write_sample(selftest, folder, "cs_hbm", "NVIDIA H100")
        result = subprocess.run([sys.executable, MERGE, "--output", os.path.join(folder, "x.json"),
                                 files[0], other], capture_output=True, text=True)
        expect(result.returncode == 1, "different GPUs are refused")
        expect("machine.gpu" in result.stderr, f"the refusal names machine.gpu: {result.stderr}")

        # A file that is not a measured file is refused.
        bogus = os.path.join(folder, "bogus.json")
        with open(bogus, "w", encoding="utf-8") as stream:
            stream.write('{"format": "something-else"}')
        result = subprocess.run([sys.executable, MERGE, "--output", os.path.join(folder, "y.json"),
                                 bogus], capture_output=True, text=True)
        expect(result.returncode == 1, "a foreign file is refused")

        # run_all.sh --merge, with python3 and (where installed) with jq.
        tools = ["python"] + (["jq"] if shutil.which("jq") else [])
        for tool in tools:
            out = os.path.join(folder, f"run_all_{tool}.json")
            env = dict(os.environ, CS_MERGE_TOOL=tool)
            result = subprocess.run(["bash", RUN_ALL, "--merge", out, *files], env=env,
                                    capture_output=True, text=True)
            expect(result.returncode == 0, f"run_all.sh --merge ({tool}): {result.stderr}")
            if result.returncode == 0:
                with open(out, encoding="utf-8") as stream:
                    check_merged(json.load(stream), f"run_all.sh --merge ({tool})")
            # A folder as OUTPUT: the file is named after the GPU.
            folder_out = os.path.join(folder, f"dir_{tool}") + "/"
            os.mkdir(folder_out)
            result = subprocess.run(["bash", RUN_ALL, "--merge", folder_out, *files], env=env,
                                    capture_output=True, text=True)
            written = result.stdout.strip()
            expect(result.returncode == 0 and os.path.basename(written).startswith("nvidia-h200-"),
                   f"run_all.sh --merge DIR/ ({tool}) wrote {written!r}: {result.stderr}")

        # Command-line errors.
        result = subprocess.run(["bash", RUN_ALL, "--bogus"], capture_output=True, text=True)
        expect(result.returncode == 2, f"run_all.sh --bogus exits 2, got {result.returncode}")
        result = subprocess.run(["bash", RUN_ALL, "--help"], capture_output=True, text=True)
        expect(result.returncode == 0 and "run_all.sh" in result.stdout, "run_all.sh --help")
        result = subprocess.run(["bash", RUN_ALL, "", os.path.join(folder, "no-such-dir")],
                                capture_output=True, text=True)
        expect(result.returncode == 1 and "not found" in result.stderr,
               "run_all.sh with a missing BIN_DIR exits 1")

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("test_merge_measured: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
