#!/usr/bin/env python3
"""Summaries for scripts/gpu_verify.sh (standard library only: it runs on the GPU machine).

  gpu_verify_summary.py tests XML...         gtest XML files -> counts, failures, skips by reason
  gpu_verify_summary.py memcheck LOG...      compute-sanitizer logs -> errors, cudl's apart from the
                                             vendor libraries' (cuDNN, cuBLAS)
  gpu_verify_summary.py select LIST_OUTPUT   `cudl_tests --gtest_list_tests` output -> the CUDA tests
                                             for memcheck, without the `large` agreement cases, as
                                             gtest filters of BATCH tests, one a line
  gpu_verify_summary.py uncovered SEL XML... (on a machine without a GPU) the GPU-skipped tests that
                                             the memcheck selection SEL misses

Each prints a few markdown lines and exits 1 when the verification must fail: a failed test, a test
skipped for want of a GPU (only with --gpu), or a memcheck error of cudl's own.
"""
import re
import sys
import xml.etree.ElementTree as ET

GPU_SKIP = "needs a CUDA device"  # the reason CUDL_REQUIRE_CUDA() gives (tests/test_util.h)
# Tests that use the GPU: CUDL_REQUIRE_CUDA tests are named for it, except these.
CUDA_NAME = re.compile(r"Cuda|CUDA|Gpu|GPU|Flash")
CUDA_EXTRA = {"Tensor.HostDeviceRoundTrip", "LayerDevice.ModuleToMovesParametersAndBuffers"}
VENDOR = re.compile(r"libcudnn|libcublas|cudnn::|cublasLt|cutlass|xmma", re.I)
RUNTIME = re.compile(r"libcuda\.so|libcudart|libcompute-sanitizer")
BATCH = 4


def tests(paths, gpu):
    total = failed = 0
    failures, skips = [], {}
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, FileNotFoundError) as e:
            failures.append(f"{path}: no result ({e})")
            continue
        for case in root.iter("testcase"):
            total += 1
            name = f"{case.get('classname')}.{case.get('name')}"
            failure = case.find("failure")
            skipped = case.find("skipped")
            if failure is not None:
                failed += 1
                failures.append(f"{name}: {failure.get('message', '').splitlines()[0][:200]}")
            elif skipped is not None or case.get("result") == "skipped":
                reason = (skipped.get("message", "") if skipped is not None else "") or "(no reason)"
                kind = "GPU" if GPU_SKIP in reason else "other"
                skips.setdefault(kind, []).append(f"{name}: {reason.strip().splitlines()[-1][:160]}")
    gpu_skips = skips.get("GPU", [])
    print(f"- tests: {total}, failed {failed}, skipped for want of a GPU {len(gpu_skips)}, "
          f"skipped for other reasons {len(skips.get('other', []))}")
    for line in failures[:40]:
        print(f"  - FAILED {line}")
    for kind in ("GPU", "other"):
        for line in skips.get(kind, [])[:40]:
            print(f"  - skipped ({kind}) {line}")
    bad = failed > 0 or any("no result" in f for f in failures) or (gpu and gpu_skips)
    return 1 if bad else 0


def memcheck(paths):
    """Splits each log into reports ('=========' lines up to a bare '=========') and files each
    memory error under cudl or a vendor library (cuDNN, cuBLAS) by its kernel's name and the
    first host frame outside the CUDA runtime. API errors ('Program hit ...') are listed
    apart: cudl handles some on purpose (a failed cudaMalloc makes the allocator free its
    cache and retry), and one it does not handle fails its test anyway."""
    own, vendor, api, summaries, unfinished = [], [], [], [], []
    for path in paths:
        text = open(path, errors="replace").read()
        if "ERROR SUMMARY" not in text:
            unfinished.append(path)
        summaries += re.findall(r"ERROR SUMMARY: (\d+) error", text)
        block = []
        for line in text.splitlines() + ["========="]:
            if not line.startswith("========="):
                continue
            body = line[9:].strip()
            if body:
                block.append(body)
                continue
            if block and not block[0].startswith("ERROR SUMMARY"):
                kernel = next((b for b in block if b.startswith("at ")), "")
                frames = [b for b in block if b.startswith("Host Frame")]
                first_frame = next((f for f in frames if not RUNTIME.search(f)), "")
                in_vendor = ("cudl::" not in kernel) and bool(VENDOR.search(kernel) or VENDOR.search(first_frame))
                where = "vendor" if in_vendor else "cudl"
                entry = f"{path.split('/')[-1]}: {where}: {block[0][:160]} {kernel[:120]}"
                if block[0].startswith("Program hit"):
                    api.append(entry)
                else:
                    (vendor if in_vendor else own).append(entry)
            block = []
    print(f"- memcheck: {len(paths)} runs, {sum(map(int, summaries))} errors reported (each trips "
          f"--error-exitcode, vendor ones too); memory errors of cudl's own {len(own)}, inside cuDNN/cuBLAS "
          f"{len(vendor)}; API errors {len(api)} (listed, not failing); runs without a summary (timed out "
          f"or crashed) {len(unfinished)}")
    for kind, lines in (("error", own), ("vendor", vendor), ("api", api)):
        for line in lines[:25]:
            print(f"  - {kind}: {line}")
    for path in unfinished[:30]:
        print(f"  - unfinished: {path.split('/')[-1]}")
    return 1 if own else 0


def select(listing):
    suite, names = "", []
    for line in open(listing):
        if not line.strip() or line.startswith("Running main"):
            continue
        if not line.startswith(" "):
            suite = line.split()[0]
        else:
            names.append(suite + line.split()[0])
    small_cases = {n.split("/", 2)[-1] for n in names if "OpAgreementCpu" in n}
    chosen = []
    for n in names:
        if not (CUDA_NAME.search(n) or n in CUDA_EXTRA):
            continue
        if "OpAgreementCuda" in n and n.split("/", 2)[-1] not in small_cases:
            continue  # a `large` case: only in the CUDA instantiation
        chosen.append(n)
    # A process per BATCH tests: a sanitized process's start (CUDA, cuBLAS, cuDNN) costs
    # seconds; gpu_verify.sh gives each batch a time limit per test.
    print("\n".join(":".join(chosen[i:i + BATCH]) for i in range(0, len(chosen), BATCH)))
    return 0


def uncovered(selection, paths):
    chosen = set(open(selection).read().replace(":", "\n").split())
    missing = []
    for path in paths:
        for case in ET.parse(path).getroot().iter("testcase"):
            skipped = case.find("skipped")
            name = f"{case.get('classname')}.{case.get('name')}"
            if skipped is not None and GPU_SKIP in skipped.get("message", "") and name not in chosen:
                missing.append(name)
    large = [n for n in missing if "OpAgreementCuda" in n]
    other = [n for n in missing if n not in large]
    print(f"- memcheck selection: {len(chosen)} tests; GPU tests left out: {len(large)} large agreement cases "
          f"(by design), {len(other)} others (name them in CUDA_EXTRA or CUDA_NAME)")
    for n in other:
        print(f"  - not covered: {n}")
    return 1 if other else 0


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "tests":
        gpu = "--gpu" in args
        sys.exit(tests([a for a in args if a != "--gpu"], gpu))
    if mode == "memcheck":
        sys.exit(memcheck(args))
    if mode == "uncovered":
        sys.exit(uncovered(args[0], args[1:]))
    if mode == "select":
        sys.exit(select(args[0]))
    sys.exit(f"usage: {sys.argv[0]} tests|memcheck|select ...")
