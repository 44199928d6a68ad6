"""Mutation test of the emulator: injects known bugs into a copy of flash_attention.cu one at a time and checks that
the emulator run (make -C cuda emu) catches each.
    python3 cuda/dev/emu/mutate.py BUILD_DIR   (from the repository root; BUILD_DIR e.g. cuda/build)
"""
import os, subprocess, sys
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))
build = os.path.abspath(sys.argv[1]) + "/emu-mut"
os.makedirs(build, exist_ok=True)
inc = subprocess.run("echo | nvcc --dryrun -x cu -c - -o /dev/null 2>&1 | sed -n 's/^#\\$ TOP=//p' | head -1", shell=True, capture_output=True, text=True).stdout.strip() + "/targets/x86_64-linux/include"
src=open(root + '/src/flash_attention.cu').read()
muts=[
 ("K frag swap", "mma<T>(s[2 * np], qf[ks], kb[0], kb[1]);", "mma<T>(s[2 * np], qf[ks], kb[1], kb[0]);"),
 ("V no trans", "ldmatrix_x4_trans(vb,", "ldmatrix_x4(vb,"),
 ("no zfill copy", "        cp_async16(smem_addr(dst + r * L::stride + ch * 8), ok ?", "        if (ok) cp_async16(smem_addr(dst + r * L::stride + ch * 8), ok ?"),
 ("no wait in loop", "        cp_async_wait<1>();                                    // everything", "        // everything"),
 ("causal off by one", "j <= i + diag", "j < i + diag"),
 ("no lk mask", "maskg != nullptr || n0 + block_n > lk ||", "maskg != nullptr ||"),
 ("P pack order", "const uint32_t pa[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),", "const uint32_t pa[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),"),
 ("no -inf guard", "m_use[r] = mx[r] == -INFINITY ? 0.0f : mx[r];", "m_use[r] = mx[r];"),
 ("O staging rows", "o_s + (g + 8 * r) * L::stride", "o_s + (g + 8 * (1 - r)) * L::stride"),
 ("n_end short", "min(m0 + block_m, lq) + diag)", "min(m0 + block_m, lq) + diag - 1)"),
 ("Q ldmatrix col", "ks * 16 + (lane >> 4) * 8));", "ks * 16 + ((lane >> 3) & 1) * 8));"),
 ("no quad max", "mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));", ""),
 ("no first wait", "    cp_async_wait<1>();  // this thread's part of Q", "    // this thread's part of Q"),
 ("mask stage", "mask_s[stage * block_n + c]", "mask_s[c]"),
 ("V row half", "(kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8)", "(kk * 16 + (lane & 7) + (lane >> 4) * 8)"),
]
for name, a, b in muts:
    assert a in src, name
    m = src.replace(a, b)
    open(build + '/mut.cu','w').write(m)
    subprocess.run([sys.executable, here + '/extract.py', build + '/mut.cu', build + '/kernel_text.h'], check=True)
    r = subprocess.run(f"g++ -std=c++17 -O2 -I{build} -I{here} -I{root}/src -I{inc} -o {build}/emu_mut {here}/main.cpp 2>&1 && timeout 300 {build}/emu_mut", shell=True, capture_output=True, text=True)
    caught = r.returncode != 0
    why = [l for l in (r.stdout + r.stderr).splitlines() if "FAIL" in l][:1]
    print(f"{name:20s} {'caught' if caught else 'NOT CAUGHT'} {why[0][:150] if why else ''}", flush=True)
