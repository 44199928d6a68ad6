"""Mutation test of the attention-backward emulation: injects known bugs into a copy of attention_backward.cu one at
a time and checks that the emulator run (dev/emu/attention_backward.cpp) catches each. A missing barrier before a
shared tile is refilled is not in the list: the fibers switch only at barriers and shuffles, so that race never shows.
    python3 cuda/dev/emu/mutate_backward.py BUILD_DIR   (BUILD_DIR e.g. cuda/build)
"""
import os, subprocess, sys
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))
build = os.path.abspath(sys.argv[1]) + "/emu-mut-backward"
os.makedirs(build, exist_ok=True)
inc = subprocess.run("echo | nvcc --dryrun -x cu -c - -o /dev/null 2>&1 | sed -n 's/^#\\$ TOP=//p' | head -1", shell=True, capture_output=True, text=True).stdout.strip() + "/targets/x86_64-linux/include"
src = open(root + '/src/attention_backward.cu').read()
muts = [
    ("causal off by one", "(!g.causal || j <= i)", "(!g.causal || j < i)"),
    ("causal start tile", "(g.causal ? kt : 0)", "(g.causal ? kt + 1 : 0)"),
    ("dK not scaled", "from_f<T>(dk[i][k] * g.scale)", "from_f<T>(dk[i][k])"),
    ("key mask ignored", "g.mask[b * g.len + j0 + tid] != 0);\n    // a block", "true);\n    // a block"),
    ("D unused", "p * (dp[m][k] - delta_s[r])", "p * dp[m][k]"),
    ("no barrier after P", "        __syncthreads();\n\n        // dV +=", "\n        // dV +="),
    ("lse without log", "m_run[m] + log2f(l)", "m_run[m]"),
    ("dQ row mapping", "const int row = i0 + kg + 8 * i;", "const int row = i0 + 4 * kg + i;"),
    ("tile pitch", "dst[r * Tile<T, D>::pitch + e]", "dst[r * D + e]"),
    ("dQ not zeroed", "dq[row + e] = 0.0f;", ""),
]
caught = 0
for name, a, b in muts:
    assert a in src, name
    open(build + '/attention_backward.cu', 'w').write(src.replace(a, b, 1))
    subprocess.run(['python3', here + '/extract_simt.py', build + '/attention_backward.cu', build + '/kernel_text_backward.h'], check=True)
    subprocess.run(['g++', '-std=c++17', '-O1', '-I' + build, '-I' + here, '-I' + root + '/src', '-I' + inc, '-o', build + '/emu',
                    here + '/attention_backward.cpp'], check=True)
    r = subprocess.run([build + '/emu'], capture_output=True, text=True)
    caught += r.returncode != 0
    print(f"{name:22s} {'caught' if r.returncode != 0 else 'MISSED'}")
print(f"{caught} of {len(muts)} mutations caught")
sys.exit(0 if caught == len(muts) else 1)
