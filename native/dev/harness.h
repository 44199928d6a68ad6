// Shared plumbing of the per-kernel harnesses in dev/ (one binary per op family, llm.c style): seeded random
// inputs, best-of-N timing, the command line, and checking every SIMD path. The path is chosen once per process
// (runtime.cpp), so each lower path is checked in a child process of the same binary with VLM4J_SIMD capping it.
//   <harness>            checks on every path, then timings     <harness> --check   checks on the current path only
//   <harness> --bench    timings only                           --reps N            timing repetitions (best of N)
#pragma once
#include "vlm4j/kernels.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace harness {
namespace {

std::mt19937 rng(1234);

std::vector<float> rand_vec(size_t n, float lo = -1.f, float hi = 1.f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best of reps runs after one warm-up, in ms: the dev machine is shared, the minimum is the least disturbed run.
template <class F>
double best_ms(F&& f, int reps) {
    f();
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
        const double t0 = now_s();
        f();
        best = std::min(best, now_s() - t0);
    }
    return best * 1e3;
}

// The SIMD paths below the one this process runs ("avx2", "scalar"), each to be checked in a child.
std::vector<std::string> lower_paths() {
    const std::string cur = vlm_simd_level();
    if (cur == "avx512") return {"avx2", "scalar"};
    if (cur == "avx2") return {"scalar"};
    return {};
}

// Parses the command line, runs run_checks() here and in one child per entry of child_envs (each "VAR=value ..."
// prefixed to the child's command; by default the lower SIMD paths), then bench(reps). Returns the exit status.
template <class Checks, class Bench>
int main(int argc, char** argv, int default_reps, Checks&& run_checks, Bench&& bench,
         std::vector<std::string> child_envs = {}) {
    bool check = true, benchmark = true, child = false;
    int reps = default_reps;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--check")) benchmark = false, child = true;
        else if (!std::strcmp(argv[i], "--bench")) check = false;
        else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: %s [--check | --bench] [--reps N]\n", argv[0]);
            return 2;
        }
    }
    if (!child) std::printf("cpu features: %s; selected path: %s\n", vlm_cpu_features(), vlm_simd_level());
    int failures = 0;
    if (check) {
        failures += run_checks();
        if (!child) {
            if (child_envs.empty()) {
                for (const auto& p : lower_paths()) child_envs.push_back("VLM4J_SIMD=" + p);
            }
            for (const auto& env : child_envs) {
                std::fflush(stdout);
                // /proc/<pid>/exe: inside system()'s shell, /proc/self would be the shell
                const std::string cmd = env + " /proc/" + std::to_string(getpid()) + "/exe --check";
                if (std::system(cmd.c_str()) != 0) ++failures;
            }
        }
    }
    if (benchmark) bench(reps);
    if (check) std::printf("%s\n", failures ? "CHECKS FAILED" : "all checks passed");
    return failures ? 1 : 0;
}

}  // namespace
}  // namespace harness
