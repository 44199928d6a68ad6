// emulated replacements of flash_attention.cu's PTX helpers
inline uint32_t smem_addr(const void* p) {
    const auto d = static_cast<const unsigned char*>(p) - emu::smem_base;
    EMU_CHECK(d >= 0 && size_t(d) <= emu::smem_size, "not a shared address");
    return uint32_t(d);
}
inline void cp_async16(uint32_t dst, const void* src, bool valid) { emu::cp(dst, src, valid, 16); }
inline void cp_async4(uint32_t dst, const void* src, bool valid) { emu::cp(dst, src, valid, 4); }
inline void cp_async_commit() {
    if (!emu::eager) { emu::groups[emu::cur].push_back(emu::open_[emu::cur]); emu::open_[emu::cur].clear(); }
}
template <int N>
inline void cp_async_wait() {
    auto& g = emu::groups[emu::cur];
    while (int(g.size()) > N) { for (auto& c : g.front()) emu::do_copy(c); g.pop_front(); }
}
inline void ldm(uint32_t (&r)[4], uint32_t addr, bool trans) {
    emu::post(trans ? 2 : 1, {addr});
    const int w = emu::W(), lane = emu::LN(), g = lane >> 2, t = lane & 3;
    for (int m = 0; m < 4; ++m) {
        for (int row = 0; row < 8; ++row) EMU_CHECK(emu::slot[w][8 * m + row][0] % 16 == 0, "ldmatrix row misaligned");
        uint16_t lo, hi;
        if (!trans) {
            const uint32_t ra = emu::slot[w][8 * m + g][0];
            lo = emu::h16(ra + 2 * (2 * t)); hi = emu::h16(ra + 2 * (2 * t + 1));
        } else {
            lo = emu::h16(emu::slot[w][8 * m + 2 * t][0] + 2 * g); hi = emu::h16(emu::slot[w][8 * m + 2 * t + 1][0] + 2 * g);
        }
        r[m] = uint32_t(lo) | uint32_t(hi) << 16;
        if (lane == 0) {  // bank groups of the 8 rows (16 bytes each)
            int cnt[8] = {};
            for (int row = 0; row < 8; ++row) emu::max_conflict = std::max(emu::max_conflict, ++cnt[(emu::slot[w][8 * m + row][0] / 16) % 8]);
        }
    }
    emu::post_end();
}
inline void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) { ldm(r, addr, false); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) { ldm(r, addr, true); }
template <typename T>
inline void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    emu::post(std::is_same_v<T, __half> ? 3 : 4, {a[0], a[1], a[2], a[3], b0, b1});
    const int w = emu::W(), lane = emu::LN();
    float A[16][16], B[16][8];
    for (int L = 0; L < 32; ++L) {
        const int gl = L >> 2, tl = L & 3;
        for (int i = 0; i < 8; ++i) {  // PTX: row g for a0,a1,a4,a5 else g+8; col 2t+(i&1) (+8 for i>=4)
            const uint32_t reg = emu::slot[w][L][i / 2];
            const float val = emu::to_f<T>(uint16_t((i & 1) ? reg >> 16 : reg & 0xffff));
            const int row = (i < 2 || (i >= 4 && i < 6)) ? gl : gl + 8, col = tl * 2 + (i & 1) + (i >= 4 ? 8 : 0);
            A[row][col] = val;
        }
        for (int i = 0; i < 4; ++i) {  // PTX: row 2t+(i&1) (+8 for i>=2), col g
            const uint32_t reg = emu::slot[w][L][4 + i / 2];
            const float val = emu::to_f<T>(uint16_t((i & 1) ? reg >> 16 : reg & 0xffff));
            B[tl * 2 + (i & 1) + (i >= 2 ? 8 : 0)][gl] = val;
        }
    }
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; ++i) {  // PTX: row g (g+8 for i>=2), col 2t+(i&1)
        const int row = i < 2 ? g : g + 8, col = t * 2 + (i & 1);
        float acc = c[i];
        for (int kk = 0; kk < 16; ++kk) acc += A[row][kk] * B[kk][col];
        c[i] = acc;
    }
    emu::post_end();
}
