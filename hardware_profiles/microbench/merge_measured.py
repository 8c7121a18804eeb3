#!/usr/bin/env python3
"""Merges the measured files that the clustersim microbenchmarks write, one per program, into one
clustersim-measured/1 file (see ../measured/README.md).

The machine objects are merged key by key: a key that only one program knows (cublas_version,
nccl_version) is taken from it; a key two programs disagree on keeps the first value, except "gpu",
"gpu_count" and "sm_count", which must agree (the files must come from one machine). The cases are
concatenated in the order of the files.

usage: merge_measured.py [--source TEXT] [--date YYYY-MM-DD] (--output FILE | --output-dir DIR)
                         FILE...
Prints the path written. Exit status 0, 1 when a file is missing or malformed or the files come
from different machines, 2 for a bad command line.
"""

import argparse
import datetime
import json
import os
import re
import sys

FORMAT = "clustersim-measured/1"
DEFAULT_SOURCE = "clustersim microbenchmarks (hardware_profiles/microbench/run_all.sh)"
MUST_AGREE = ("gpu", "gpu_count", "sm_count")


class MergeError(Exception):
    pass


def gpu_slug(name):
    """'NVIDIA H200' -> 'nvidia-h200': lower case, runs of other characters to one dash."""
    slug = re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")
    if not slug:
        raise MergeError(f"cannot make a file name from the GPU name {name!r}")
    return slug


def load(path):
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except (OSError, ValueError) as error:
        raise MergeError(f"{path}: {error}") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise MergeError(f"{path}: not a {FORMAT} file")
    if not isinstance(document.get("machine"), dict) or not isinstance(document.get("cases"), list):
        raise MergeError(f"{path}: needs a 'machine' object and a 'cases' list")
    return document


def merge(documents, paths, source, date):
    machine = {}
    programs = []
    cases = []
    skipped = []
    quick = False
    for document, path in zip(documents, paths):
        for key, value in document["machine"].items():
            if key not in machine:
                machine[key] = value
            elif machine[key] != value:
                if key in MUST_AGREE:
                    raise MergeError(
                        f"{path}: machine.{key} is {value!r}, another file says {machine[key]!r}"
                    )
                print(
                    f"merge_measured: warning: {path}: machine.{key} {value!r} differs, "
                    f"keeping {machine[key]!r}",
                    file=sys.stderr,
                )
        for program in document.get("programs", []):
            if program not in programs:
                programs.append(program)
        cases.extend(document["cases"])
        skipped.extend(document.get("skipped_cases", []))
        quick = quick or document.get("quick") is True
    merged = {"format": FORMAT, "source": source, "date": date, "programs": programs}
    if quick:
        merged["quick"] = True
    merged["machine"] = machine
    if skipped:
        merged["skipped_cases"] = skipped
    merged["cases"] = cases
    return merged


def render(merged):
    """Pretty JSON with one case per line, like the programs write it."""
    lines = ["{"]
    items = list(merged.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index + 1 < len(items) else ""
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            lines.append(f"  {json.dumps(key)}: [")
            for item_index, item in enumerate(value):
                item_comma = "," if item_index + 1 < len(value) else ""
                lines.append(f"    {json.dumps(item)}{item_comma}")
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description="Merge clustersim measured files.")
    parser.add_argument("--source", default=DEFAULT_SOURCE)
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    parser.add_argument("--date", default=today)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--output", help="the merged file")
    target.add_argument("--output-dir", help="folder for <gpu-slug>-<date>.json")
    parser.add_argument("files", nargs="+")
    arguments = parser.parse_args(argv)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", arguments.date):
        parser.error(f"--date {arguments.date!r} is not YYYY-MM-DD")
    try:
        documents = [load(path) for path in arguments.files]
        merged = merge(documents, arguments.files, arguments.source, arguments.date)
        if "gpu" not in merged["machine"]:
            raise MergeError("no file names the GPU (machine.gpu)")
        output = arguments.output
        if output is None:
            name = f"{gpu_slug(merged['machine']['gpu'])}-{arguments.date}.json"
            output = os.path.join(arguments.output_dir, name)
        with open(output, "w", encoding="utf-8") as stream:
            stream.write(render(merged))
    except (MergeError, OSError) as error:
        print(f"merge_measured: {error}", file=sys.stderr)
        return 1
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
