// Section 3.3's local response normalisation, and the 2012 code's within-map normalisation, as CPU
// kernels over the channels-last layout (each pixel's channels contiguous), forward and backward.
// alexnet_core/norm_kernels.py compiles this file once per machine (-O3 -march=native -ffast-math)
// and calls it through ctypes, a slice of the batch per thread; it says why and what it measured.
//
//   forward:  b = a * d^-beta,  d = k + alpha * window_sum(a^2)
//   backward: da = g * d^-beta - 2 alpha beta * a * window_sum(g * a * d^(-beta-1)),
//             d recomputed from a (nothing but the input is kept between the two passes)
//
// The window is `size` adjacent channels within a column of `n` channels (cross-map), or the
// size x size neighbours in each map (within-map); it ends at the borders (zeros beyond).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace {

struct BF16 { uint16_t bits; };

inline float widen(BF16 h) { uint32_t u = uint32_t(h.bits) << 16; float f; std::memcpy(&f, &u, 4); return f; }
inline float widen(float x) { return x; }
inline double widen(double x) { return x; }
inline void narrow(BF16* p, float f) {  // round to nearest even, NaN to torch's 0x7FC0, as torch does
    uint32_t u; std::memcpy(&u, &f, 4);
    const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
    u += 0x7FFFu + ((u >> 16) & 1u);
    p->bits = nan ? uint16_t(0x7FC0) : uint16_t(u >> 16);
}
inline void narrow(float* p, float x) { *p = x; }
inline void narrow(double* p, double x) { *p = x; }

// Lanes: how a kernel reads, computes and writes L channels at a time. One channel at a time in
// the arithmetic type W (float, or double for gradcheck), in loops the compiler vectorises; the
// power by square roots when beta is the paper's 0.75 (PAPER_BETA), which vectorise where pow
// does not.
template <typename T_, typename W, bool PAPER_BETA>
struct OneLane {
    using T = T_;
    using V = W;
    static constexpr int64_t L = 1;
    static V get(const T* p) { return widen(*p); }
    static void put(T* p, V v) { narrow(p, v); }
    static V getw(const W* p) { return *p; }
    static void putw(W* p, V v) { *p = v; }
    static V splat(double x) { return W(x); }
    static V add(V a, V b) { return a + b; }
    static V mul(V a, V b) { return a * b; }
    static V mul_add(V a, V b, V c) { return a * b + c; }
    static V mul_sub_from(V c, V a, V b) { return c - a * b; }
    // scale = d^-beta, and over_d = 1 / d
    static V scale(V d, V beta, V* over_d) {
        if (PAPER_BETA) { V r = V(1) / std::sqrt(d); *over_d = r * r; return r * std::sqrt(r); }
        *over_d = V(1) / d;
        return std::pow(d, -beta);
    }
};

#if defined(__AVX512F__)
// bf16 with beta = 0.75 on AVX-512, 16 channels a vector: the bf16 conversions as single
// instructions where the CPU has AVX512-BF16, and d^-0.75 = r^2 * r^-1/2 (r = d^-1/2) from the
// 14-bit reciprocal square root, relative error under 3e-4 where a bf16 result rounds by 2e-3.
struct Bf16Avx512 {
    using T = BF16;
    using V = __m512;
    static constexpr int64_t L = 16;
    static V get(const T* p) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16));
    }
    // A result goes to memory past the caches (a streaming store) where its address allows: the
    // next layer reads an activation from its start, long after its end would have left the cache,
    // and a plain store first reads the line it writes. 5-8% off each kernel's time on the EPYC
    // (AVX512-BF16) that measured it (norm_kernels.py says how).
    // The entry points end with a store fence, so the thread that waits for them sees the results.
    static void put(T* p, V v) {
#if defined(__AVX512BF16__)
        const __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
#else
        __m512i u = _mm512_castps_si512(v);
        __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
        u = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), odd));
        u = _mm512_mask_mov_epi32(_mm512_srli_epi32(u, 16), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC0));
        const __m256i h = _mm512_cvtepi32_epi16(u);
#endif
        if ((reinterpret_cast<uintptr_t>(p) & 31) == 0) _mm256_stream_si256((__m256i*)p, h);
        else _mm256_storeu_si256((__m256i*)p, h);
    }
    static V getw(const float* p) { return _mm512_loadu_ps(p); }
    static void putw(float* p, V v) { _mm512_storeu_ps(p, v); }
    static V splat(double x) { return _mm512_set1_ps(float(x)); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    static V mul_add(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V mul_sub_from(V c, V a, V b) { return _mm512_fnmadd_ps(a, b, c); }
    static V scale(V d, V, V* over_d) {
        V r = _mm512_rsqrt14_ps(d), rr = _mm512_mul_ps(r, r);
        *over_d = rr;
        return _mm512_mul_ps(rr, _mm512_rsqrt14_ps(r));
    }
};
#endif

// the window sum of a zero-padded run from q: q[0] + q[stride] + ... (size terms)
template <typename O, typename W>
inline __attribute__((always_inline)) typename O::V window_sum(const W* q, int64_t stride, int64_t size) {
    typename O::V total = O::getw(q);
    for (int64_t j = 1; j < size; ++j) total = O::add(total, O::getw(q + j * stride));
    return total;
}

// Asks memory for `count` elements, from element i, of the inputs a and g (either null: none) of a tile
// or row still to come, while this one computes: the kernels read their inputs a tile or a row at a
// time, between passes of arithmetic, and the hardware's prefetcher does not run that far ahead (a
// third of the within-map kernel's time went to those first loads). Called outside the innermost
// loops, which the compiler vectorises.
template <typename O>
inline __attribute__((always_inline)) void prefetch(const char* next_a, const char* next_g, int64_t i, int64_t count) {
    constexpr int64_t LINE = 64;
    const int64_t from = i * int64_t(sizeof(typename O::T)), to = (i + count) * int64_t(sizeof(typename O::T));
    for (int64_t byte = from; byte < to; byte += LINE) {
        if (next_a) __builtin_prefetch(next_a + byte, 0, 3);
        if (next_g) __builtin_prefetch(next_g + byte, 0, 3);
    }
}

// ---- across maps: runs of n channels (a pixel's maps, or one column of them), a tile of runs at
// a time, one pass over the tile for each step of the arithmetic, the intermediates in the core's cache.

template <typename O, typename W, int64_t N, int64_t S>
void cross_forward_tile(const typename O::T* a, typename O::T* b, int64_t count, int64_t n_, int64_t size_,
                        double alpha, double beta, double k, W* sq, const char* next_a) {
    const int64_t n = N > 0 ? N : n_, size = S > 0 ? S : size_, half = size / 2, w = n + 2 * half;
    const auto va = O::splat(alpha), vk = O::splat(k), vb = O::splat(beta);
    for (int64_t r = 0; r < count; ++r)
        for (int64_t c = 0; c < n; c += O::L) { auto x = O::get(a + r * n + c); O::putw(sq + r * w + half + c, O::mul(x, x)); }
    for (int64_t r = 0; r < count; ++r) {
        prefetch<O>(next_a, nullptr, r * n, n);
        for (int64_t c = 0; c < n; c += O::L) {
            typename O::V over_d, s = O::scale(O::mul_add(va, window_sum<O>(sq + r * w + c, 1, size), vk), vb, &over_d);
            O::put(b + r * n + c, O::mul(O::get(a + r * n + c), s));
        }
    }
}

template <typename O, typename W, int64_t N, int64_t S>
void cross_backward_tile(const typename O::T* a, const typename O::T* g, typename O::T* da, int64_t count, int64_t n_,
                         int64_t size_, double alpha, double beta, double k, W* sq, W* t, W* gs, const char* next_a,
                         const char* next_g) {
    const int64_t n = N > 0 ? N : n_, size = S > 0 ? S : size_, half = size / 2, w = n + 2 * half;
    const auto va = O::splat(alpha), vk = O::splat(k), vb = O::splat(beta), coef = O::splat(2.0 * alpha * beta);
    for (int64_t r = 0; r < count; ++r)
        for (int64_t c = 0; c < n; c += O::L) { auto x = O::get(a + r * n + c); O::putw(sq + r * w + half + c, O::mul(x, x)); }
    for (int64_t r = 0; r < count; ++r) {
        prefetch<O>(next_a, next_g, r * n, n);
        for (int64_t c = 0; c < n; c += O::L) {
            typename O::V over_d, s = O::scale(O::mul_add(va, window_sum<O>(sq + r * w + c, 1, size), vk), vb, &over_d);
            auto gv = O::get(g + r * n + c);
            O::putw(gs + r * n + c, O::mul(gv, s));                                       // g d^-beta
            O::putw(t + r * w + half + c, O::mul(O::mul(gv, O::get(a + r * n + c)), O::mul(s, over_d)));  // g a d^(-beta-1)
        }
    }
    for (int64_t r = 0; r < count; ++r)
        for (int64_t c = 0; c < n; c += O::L) {
            auto tw = window_sum<O>(t + r * w + c, 1, size);
            O::put(da + r * n + c, O::mul_sub_from(O::getw(gs + r * n + c), O::mul(coef, O::get(a + r * n + c)), tw));
        }
}

constexpr int64_t TILE = 4096;  // floats in each scratch buffer of a tile of runs

template <typename O, typename W, int64_t N, int64_t S>
void cross_map(const typename O::T* a, const typename O::T* g, typename O::T* out, int64_t r0, int64_t r1, int64_t n,
               int64_t size, double alpha, double beta, double k) {
    const int64_t half = size / 2, w = n + 2 * half, per = TILE / w > 0 ? TILE / w : 1;  // w > 0: see cross_map_any
    std::vector<W> sq(per * w, W(0)), t(g ? per * w : 0, W(0)), gs(g ? per * n : 0);  // the pads stay zero
    for (int64_t r = r0; r < r1; r += per) {
        const int64_t count = r1 - r < per ? r1 - r : per;
        const int64_t next = r + per < r1 ? r + per : -1;  // the next tile's first run, if any
        const char* next_a = next >= 0 ? reinterpret_cast<const char*>(a + next * n) : nullptr;
        const char* next_g = next >= 0 && g ? reinterpret_cast<const char*>(g + next * n) : nullptr;
        if (g) cross_backward_tile<O, W, N, S>(a + r * n, g + r * n, out + r * n, count, n, size, alpha, beta, k, sq.data(), t.data(), gs.data(), next_a, next_g);
        else cross_forward_tile<O, W, N, S>(a + r * n, out + r * n, count, n, size, alpha, beta, k, sq.data(), next_a);
    }
}

// AlexNet's columns (48, 128 maps) and whole layers (96, 256), the paper's window of 5: unrolled
template <typename O, typename W>
void cross_map_any(const typename O::T* a, const typename O::T* g, typename O::T* out, int64_t r0, int64_t r1, int64_t n,
                   int64_t size, double alpha, double beta, double k) {
    if (n <= 0) return;  // norm_kernels.py sends no empty tensor
    if (size == 5 && n == 48) cross_map<O, W, 48, 5>(a, g, out, r0, r1, n, size, alpha, beta, k);
    else if (size == 5 && n == 96) cross_map<O, W, 96, 5>(a, g, out, r0, r1, n, size, alpha, beta, k);
    else if (size == 5 && n == 128) cross_map<O, W, 128, 5>(a, g, out, r0, r1, n, size, alpha, beta, k);
    else if (size == 5 && n == 256) cross_map<O, W, 256, 5>(a, g, out, r0, r1, n, size, alpha, beta, k);
    else cross_map<O, W, 0, 0>(a, g, out, r0, r1, n, size, alpha, beta, k);
}

// ---- within each map: one image (H x Wd pixels of C channels) at a time, streamed down its rows.
// At step y the squares of row y are summed along the row; row y - half, whose column window is
// then complete, is normalised (the forward) or gives g d^-beta and t = g a d^(-beta-1), whose
// row sums follow; row y - 2 half, whose window of t is then complete, gets its gradient. The
// rows in flight stay in rings of a few rows each, in the core's cache.

template <typename O, typename W>
struct Rows {  // a ring of row buffers, Wd x C each, and a zero row for the rows beyond the border
    int64_t count, height, len;
    std::vector<W> mem;
    Rows(int64_t count_, int64_t height_, int64_t len_) : count(count_), height(height_), len(len_), mem((count_ + 1) * len_, W(0)) {}
    W* operator[](int64_t y) { return y < 0 || y >= height ? mem.data() + count * len : mem.data() + (y % count) * len; }
};

// out = the window sum along the row held, squared or as is, in line (zero-padded by half pixels).
// In vectors of channels with the paper's window of 5: the window slides along the row in registers,
// one load a pixel, the sum in window_sum's order.
template <typename O, typename W, int64_t S>
inline __attribute__((always_inline)) void sum_along_row(const W* __restrict line, W* __restrict out, int64_t Wd, int64_t C, int64_t size) {
    if constexpr (S == 5 && O::L > 1) {
        for (int64_t c = 0; c < C; c += O::L) {
            const W* q = line + c;
            auto r0 = O::getw(q), r1 = O::getw(q + C), r2 = O::getw(q + 2 * C), r3 = O::getw(q + 3 * C);
            for (int64_t x = 0; x < Wd; ++x) {
                auto r4 = O::getw(q + (x + 4) * C);
                O::putw(out + x * C + c, O::add(O::add(O::add(O::add(r0, r1), r2), r3), r4));
                r0 = r1; r1 = r2; r2 = r3; r3 = r4;
            }
        }
        return;
    }
    for (int64_t x = 0; x < Wd; ++x)
        for (int64_t c = 0; c < C; c += O::L) O::putw(out + x * C + c, window_sum<O>(line + x * C + c, C, size));
}

// the window sum down the column: rows y - half .. y + half of the ring, at element i
template <typename O, typename W>
inline __attribute__((always_inline)) typename O::V sum_down_column(const W* const* rows, int64_t i, int64_t size) {
    typename O::V total = O::getw(rows[0] + i);
    for (int64_t j = 1; j < size; ++j) total = O::add(total, O::getw(rows[j] + i));
    return total;
}

template <typename O, typename W>
struct WithinScratch {  // one thread's: the rings of row sums (squares and t) and of g d^-beta, and a padded line
    Rows<O, W> squares, t, gs;
    std::vector<W> line;
    WithinScratch(int64_t H, int64_t Wd, int64_t C, int64_t size, bool backward)
        : squares(size + 1, H, Wd * C), t(backward ? size + 1 : 0, H, Wd * C), gs(backward ? size + 1 : 0, H, Wd * C),
          line((Wd + size) * C, W(0)) {}
};

constexpr int64_t MAX_WINDOW = 64;  // norm_kernels.py sends no window wider than 63

template <typename O, typename W, int64_t S>
void within_image(const typename O::T* a, const typename O::T* g, typename O::T* out, int64_t H, int64_t Wd, int64_t C,
                  int64_t size_, double alpha, double beta, double k, WithinScratch<O, W>& s, int64_t rows_readable) {
    const auto va = O::splat(alpha), vk = O::splat(k), vb = O::splat(beta), coef = O::splat(2.0 * alpha * beta);
    const int64_t size = S > 0 ? S : size_, half = size / 2, len = Wd * C;
    const W* window[MAX_WINDOW];
    W* line = s.line.data() + half * C;
    for (int64_t y = 0; y < H + 2 * half; ++y) {
        if (y < H) {  // the squares of row y, summed along it
            for (int64_t i = 0; i < len; i += O::L) { auto x = O::get(a + y * len + i); O::putw(line + i, O::mul(x, x)); }
            sum_along_row<O, W, S>(s.line.data(), s.squares[y], Wd, C, size);
        }
        const int64_t yd = y - half;
        if (yd >= 0 && yd < H) {  // row yd: its window of squares is complete
            for (int64_t j = 0; j < size; ++j) window[j] = s.squares[yd - half + j];
            const int64_t o = yd * len;
            W* const gs = g ? s.gs[yd] : nullptr;
            // the rows read from memory after the next (the next image's first rows at the end of this one)
            const char* next_a = y + 2 < rows_readable ? reinterpret_cast<const char*>(a + (y + 2) * len) : nullptr;
            const char* next_g = g && yd + 2 < rows_readable ? reinterpret_cast<const char*>(g + (yd + 2) * len) : nullptr;
            for (int64_t x = 0; x < Wd; ++x) {  // a pixel at a time, that pixel of the next rows asked for
                prefetch<O>(next_a, next_g, x * C, C);
                for (int64_t i = x * C; i < (x + 1) * C; i += O::L) {
                    typename O::V over_d, sc = O::scale(O::mul_add(va, sum_down_column<O>(window, i, size), vk), vb, &over_d);
                    if (!g) { O::put(out + o + i, O::mul(O::get(a + o + i), sc)); continue; }
                    auto gv = O::get(g + o + i);
                    O::putw(gs + i, O::mul(gv, sc));                                                // g d^-beta
                    O::putw(line + i, O::mul(O::mul(gv, O::get(a + o + i)), O::mul(sc, over_d)));   // g a d^(-beta-1)
                }
            }
            if (g) sum_along_row<O, W, S>(s.line.data(), s.t[yd], Wd, C, size);
        }
        const int64_t ye = y - 2 * half;
        if (g && ye >= 0) {  // row ye: its window of t is complete
            for (int64_t j = 0; j < size; ++j) window[j] = s.t[ye - half + j];
            const int64_t o = ye * len;
            const W* gs = s.gs[ye];
            for (int64_t i = 0; i < len; i += O::L)
                O::put(out + o + i, O::mul_sub_from(O::getw(gs + i), O::mul(coef, O::get(a + o + i)), sum_down_column<O>(window, i, size)));
        }
    }
}

template <typename O, typename W>
void within_map(const typename O::T* a, const typename O::T* g, typename O::T* out, int64_t n0, int64_t n1, int64_t H,
                int64_t Wd, int64_t C, int64_t size, double alpha, double beta, double k) {
    if (size > MAX_WINDOW || H * Wd * C == 0) return;  // norm_kernels.py sends neither
    WithinScratch<O, W> scratch(H, Wd, C, size, g != nullptr);
    for (int64_t n = n0; n < n1; ++n) {
        const int64_t o = n * H * Wd * C;
        const int64_t rows_readable = (n1 - n) * H;  // this image's and the rest of the slice's, one after another
        if (size == 5) within_image<O, W, 5>(a + o, g ? g + o : nullptr, out + o, H, Wd, C, size, alpha, beta, k, scratch, rows_readable);
        else within_image<O, W, 0>(a + o, g ? g + o : nullptr, out + o, H, Wd, C, size, alpha, beta, k, scratch, rows_readable);
    }
}

// ---- the lanes for a dtype, beta and channel count

template <typename T, typename W, template <typename, typename> class KERNEL, typename... Args>
void with_lanes(double beta, int64_t channels, Args... args) {
#if defined(__AVX512F__)
    if constexpr (std::is_same<T, BF16>::value) {
        if (beta == 0.75 && channels % Bf16Avx512::L == 0) { KERNEL<Bf16Avx512, float>::run(args...); return; }
    }
#endif
    if (beta == 0.75) KERNEL<OneLane<T, W, true>, W>::run(args...);
    else KERNEL<OneLane<T, W, false>, W>::run(args...);
}

template <typename O, typename W>
struct CrossMap {
    static void run(const typename O::T* a, const typename O::T* g, typename O::T* out, int64_t r0, int64_t r1, int64_t n,
                    int64_t size, double alpha, double beta, double k) {
        cross_map_any<O, W>(a, g, out, r0, r1, n, size, alpha, beta, k);
    }
};
template <typename O, typename W>
struct WithinMap {
    static void run(const typename O::T* a, const typename O::T* g, typename O::T* out, int64_t n0, int64_t n1, int64_t H,
                    int64_t Wd, int64_t C, int64_t size, double alpha, double beta, double k) {
        within_map<O, W>(a, g, out, n0, n1, H, Wd, C, size, alpha, beta, k);
    }
};

// the streaming stores (Bf16Avx512::put) done and seen before a kernel returns
inline void store_fence() {
#if defined(__AVX512F__)
    _mm_sfence();
#endif
}

}  // namespace

// The entry points, per dtype. `grad` null: the forward into `out`; else the input gradient into
// `out`. Cross-map: pixels p0..p1 of `channels` channels in `groups` columns. Within-map: images
// n0..n1 of height x width pixels.
extern "C" {
#define ENTRY_POINTS(NAME, T, W)                                                                                      \
void NAME##_cross_map(const T* a, const T* grad, T* out, int64_t p0, int64_t p1, int64_t channels, int64_t groups,    \
                      int64_t size, double alpha, double beta, double k) {                                            \
    const int64_t n = channels / groups;                                                                              \
    with_lanes<T, W, CrossMap>(beta, n, a, grad, out, p0 * groups, p1 * groups, n, size, alpha, beta, k);              \
    store_fence();                                                                                                    \
}                                                                                                                     \
void NAME##_within_map(const T* a, const T* grad, T* out, int64_t n0, int64_t n1, int64_t height, int64_t width,      \
                       int64_t channels, int64_t size, double alpha, double beta, double k) {                         \
    with_lanes<T, W, WithinMap>(beta, channels, a, grad, out, n0, n1, height, width, channels, size, alpha, beta, k); \
    store_fence();                                                                                                    \
}
ENTRY_POINTS(bf16, BF16, float)
ENTRY_POINTS(f32, float, float)
ENTRY_POINTS(f64, double, double)
}
