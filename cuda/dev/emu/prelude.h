// CPU emulation prelude: fibers for 128 threads, warp collectives from the PTX ISA definitions.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <ucontext.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <type_traits>
#include <vector>
#include "attention.cuh"

#undef __global__
#undef __device__
#undef __forceinline__
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define EMU_CHECK(c, ...) do { if (!(c)) { std::fprintf(stderr, "EMU FAIL %s:%d: %s ", __FILE__, __LINE__, #c); std::fprintf(stderr, __VA_ARGS__); std::fprintf(stderr, "\n"); std::abort(); } } while (0)

namespace emu {
constexpr int NT = 128;
struct Dim { unsigned x; };
int cur = 0;
Dim block_idx{0};
inline Dim tidx() { return Dim{unsigned(cur)}; }
unsigned char* smem_base = nullptr;
size_t smem_size = 0;
bool eager = true;
long progress = 0;
ucontext_t sched_ctx, ctx[NT];
std::vector<char> stacks[NT];
bool done[NT];
std::function<void()> body;
int max_conflict = 1;
long collectives = 0;

inline void yield() { swapcontext(&ctx[cur], &sched_ctx); }
struct Bar { int n; int count; long gen; };
Bar block_bar{NT, 0, 0};
Bar warp_bar[4] = {{32, 0, 0}, {32, 0, 0}, {32, 0, 0}, {32, 0, 0}};
inline void arrive(Bar& b) {
    const long g = b.gen;
    ++progress;
    if (++b.count == b.n) { b.count = 0; ++b.gen; }
    else while (b.gen == g) yield();
}

// global buffers the kernel may read
struct Range { const unsigned char* p; size_t n; };
std::vector<Range> globals;
inline void check_global(const void* p, size_t n) {
    auto c = static_cast<const unsigned char*>(p);
    for (auto& r : globals) if (c >= r.p && c + n <= r.p + r.n) return;
    EMU_CHECK(false, "global read outside every buffer");
}

// cp.async
struct Copy { unsigned char* dst; const unsigned char* src; int n, valid; };
std::vector<Copy> open_[NT];
std::deque<std::vector<Copy>> groups[NT];
inline void do_copy(const Copy& c) {
    if (c.valid) std::memcpy(c.dst, c.src, c.n);
    else std::memset(c.dst, 0, c.n);
}
inline void cp(uint32_t dst, const void* src, bool valid, int n) {
    EMU_CHECK(dst % n == 0 && dst + n <= smem_size, "smem dst %u", dst);
    EMU_CHECK(reinterpret_cast<uintptr_t>(src) % n == 0, "src misaligned");
    if (valid) check_global(src, n);
    Copy c{smem_base + dst, static_cast<const unsigned char*>(src), n, valid ? n : 0};
    if (eager) do_copy(c); else open_[cur].push_back(c);
}

// warp exchange
uint32_t slot[4][32][8];
int tags[4][32];
inline int W() { return cur >> 5; }
inline int LN() { return cur & 31; }
inline void post(int tag, std::initializer_list<uint32_t> v) {
    int i = 0;
    for (uint32_t x : v) slot[W()][LN()][i++] = x;
    tags[W()][LN()] = tag;
    arrive(warp_bar[W()]);
    for (int l = 0; l < 32; ++l) EMU_CHECK(tags[W()][l] == tag, "divergent collective");
    if (LN() == 0) ++collectives;
}
inline void post_end() { arrive(warp_bar[W()]); }
inline uint16_t h16(uint32_t addr) {
    EMU_CHECK(addr + 2 <= smem_size, "ldmatrix out of smem");
    uint16_t v; std::memcpy(&v, smem_base + addr, 2); return v;
}
template <typename T> inline float to_f(uint16_t bits) {
    T x; std::memcpy(&x, &bits, 2);
    if constexpr (std::is_same_v<T, __half>) return __half2float(x); else return __bfloat162float(x);
}
inline void scheduler() {
    for (int i = 0; i < NT; ++i) {
        done[i] = false;
        stacks[i].resize(1 << 17);
        getcontext(&ctx[i]);
        ctx[i].uc_stack.ss_sp = stacks[i].data();
        ctx[i].uc_stack.ss_size = stacks[i].size();
        ctx[i].uc_link = &sched_ctx;
        makecontext(&ctx[i], (void (*)())+[] { body(); done[cur] = true; ++progress; }, 0);
    }
    for (;;) {
        bool all = true;
        const long before = progress;
        for (int i = 0; i < NT; ++i) {
            if (done[i]) continue;
            all = false;
            cur = i;
            swapcontext(&sched_ctx, &ctx[i]);
        }
        if (all) break;
        EMU_CHECK(progress != before, "deadlock");
    }
    for (int i = 0; i < NT; ++i) EMU_CHECK(open_[i].empty() && groups[i].empty(), "cp.async left in flight");
}
}  // namespace emu

#define threadIdx (emu::tidx())
#define blockIdx (emu::block_idx)
using std::min;
using std::max;
inline void __syncthreads() { emu::arrive(emu::block_bar); }
inline void __syncwarp() { emu::arrive(emu::warp_bar[emu::W()]); }
inline float __shfl_xor_sync(unsigned, float v, int o) {
    uint32_t b; std::memcpy(&b, &v, 4);
    emu::post(10 + o, {b});
    std::memcpy(&v, &emu::slot[emu::W()][emu::LN() ^ o][0], 4);
    emu::post_end();
    return v;
}
