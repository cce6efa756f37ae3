#include "narrow_kernels.hpp"

#include <immintrin.h>

#include <algorithm>

#include <monobody/error.hpp>

namespace monobody::nn::detail {
namespace {

bool cpu_has_avx2_fma() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

// A 3x3, stride-1 window with one pixel of zero padding on every side (TFLite's SAME for 3x3), over a
// batch of one: output shape == input shape except for the channels.
bool is_same_3x3(const Graph& graph, const Operation& op) {
  const Window& w = op.window;
  const std::vector<int>& in = graph.tensors[static_cast<std::size_t>(op.inputs[0])].shape;
  const std::vector<int>& out = graph.tensors[static_cast<std::size_t>(op.output)].shape;
  return w.kernel_h == 3 && w.kernel_w == 3 && w.stride_h == 1 && w.stride_w == 1 && w.dilation_h == 1 &&
         w.dilation_w == 1 && w.pad_top == 1 && w.pad_bottom == 1 && w.pad_left == 1 && w.pad_right == 1 &&
         in.size() == 4 && in[0] == 1 && out[1] == in[1] && out[2] == in[2] &&
         !graph.tensors[static_cast<std::size_t>(op.inputs[0])].is_constant;
}

struct Shape {
  int height, width, channels;
};

Shape input_shape(const Graph& graph, const Operation& op) {
  const std::vector<int>& s = graph.tensors[static_cast<std::size_t>(op.inputs[0])].shape;
  return {s[1], s[2], s[3]};
}

const float* bias_of(const Graph& graph, const Operation& op) {
  return op.inputs[2] >= 0 ? graph.tensors[static_cast<std::size_t>(op.inputs[2])].data.data() : nullptr;
}

// The clamp keeps NaN (as the reference's std::min/std::max do): _mm256_max_ps(a, b) returns b when
// either is NaN, so the value goes second.
__attribute__((target("avx2,fma"))) inline __m256 clamp8(__m256 v, __m256 low, __m256 high) {
  return _mm256_min_ps(high, _mm256_max_ps(low, v));
}

// One output row of a 3x3 depthwise convolution. Each 8-channel block keeps its nine taps in registers
// and walks the row; the taps outside the image (padding) are skipped, not read.
__attribute__((target("avx2,fma"))) void depthwise3x3_row(const float* input, float* output, const float* weights,
                                                          const float* bias, Shape s, int y, OutputRange range) {
  const std::ptrdiff_t C = s.channels, W = s.width;
  const __m256 low = _mm256_set1_ps(range.min), high = _mm256_set1_ps(range.max);
  for (std::ptrdiff_t cb = 0; cb < C; cb += 8) {
    __m256 k[9];
    for (int t = 0; t < 9; ++t) k[t] = _mm256_loadu_ps(weights + t * C + cb);
    const __m256 b = bias != nullptr ? _mm256_loadu_ps(bias + cb) : _mm256_setzero_ps();
    const float* rows[3];
    for (int ky = 0; ky < 3; ++ky) {
      const int iy = y + ky - 1;
      rows[ky] = iy >= 0 && iy < s.height ? input + std::ptrdiff_t(iy) * W * C + cb : nullptr;
    }
    float* out = output + std::ptrdiff_t(y) * W * C + cb;
    for (std::ptrdiff_t x = 0; x < W; ++x) {
      __m256 acc = b;
      for (int ky = 0; ky < 3; ++ky) {
        if (rows[ky] == nullptr) continue;
        const float* r = rows[ky] + x * C;
        if (x > 0) acc = _mm256_fmadd_ps(_mm256_loadu_ps(r - C), k[3 * ky], acc);
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(r), k[3 * ky + 1], acc);
        if (x + 1 < W) acc = _mm256_fmadd_ps(_mm256_loadu_ps(r + C), k[3 * ky + 2], acc);
      }
      _mm256_storeu_ps(out + x * C, clamp8(acc, low, high));
    }
  }
}

// The sums of eight vectors' lanes, as one vector: lane i holds the sum of v[i]'s eight lanes.
__attribute__((target("avx2,fma"))) inline __m256 horizontal_sums(const __m256 v[8]) {
  const __m256 pairs01 = _mm256_hadd_ps(v[0], v[1]), pairs23 = _mm256_hadd_ps(v[2], v[3]);
  const __m256 pairs45 = _mm256_hadd_ps(v[4], v[5]), pairs67 = _mm256_hadd_ps(v[6], v[7]);
  const __m256 quads0123 = _mm256_hadd_ps(pairs01, pairs23), quads4567 = _mm256_hadd_ps(pairs45, pairs67);
  // Each 128-bit half now holds the four sums of its own half of the inputs' lanes.
  return _mm256_add_ps(_mm256_permute2f128_ps(quads0123, quads4567, 0x20),
                       _mm256_permute2f128_ps(quads0123, quads4567, 0x31));
}

// One output pixel's 8-wide partial sums over the 3x3 taps and channel blocks. kChannels > 0 fixes the
// channel count at compile time (the inner loop unrolls); 0 reads it from `s`.
template <int kChannels>
__attribute__((target("avx2,fma"))) inline __m256 conv3x3_partial_sums(const float* input, const float* weights, Shape s,
                                                                       int y, std::ptrdiff_t x) {
  const std::ptrdiff_t C = kChannels > 0 ? kChannels : s.channels, W = s.width;
  __m256 acc = _mm256_setzero_ps();
  for (int ky = 0; ky < 3; ++ky) {
    const int iy = y + ky - 1;
    if (iy < 0 || iy >= s.height) continue;
    for (int kx = 0; kx < 3; ++kx) {
      const std::ptrdiff_t ix = x + kx - 1;
      if (ix < 0 || ix >= W) continue;
      const float* in = input + (std::ptrdiff_t(iy) * W + ix) * C;
      const float* w = weights + (3 * ky + kx) * C;
      for (std::ptrdiff_t c = 0; c < C; c += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(in + c), _mm256_loadu_ps(w + c), acc);
    }
  }
  return acc;
}

// One output row of a 3x3 convolution to a single channel: per pixel, 8-wide partial sums; then eight
// pixels' horizontal sums at once.
template <int kChannels>
__attribute__((target("avx2,fma"))) void conv3x3_to_one_row(const float* input, float* output, const float* weights,
                                                            const float* bias, Shape s, int y, OutputRange range) {
  const std::ptrdiff_t W = s.width;
  const float b = bias != nullptr ? bias[0] : 0.0f;
  float* out = output + std::ptrdiff_t(y) * W;
  std::ptrdiff_t x = 0;
  const __m256 low = _mm256_set1_ps(range.min), high = _mm256_set1_ps(range.max), vb = _mm256_set1_ps(b);
  for (; x + 8 <= W; x += 8) {
    __m256 partial[8];
    for (int p = 0; p < 8; ++p) partial[p] = conv3x3_partial_sums<kChannels>(input, weights, s, y, x + p);
    _mm256_storeu_ps(out + x, clamp8(_mm256_add_ps(horizontal_sums(partial), vb), low, high));
  }
  for (; x < W; ++x) {
    __m256 partial[8];
    partial[0] = conv3x3_partial_sums<kChannels>(input, weights, s, y, x);
    for (int p = 1; p < 8; ++p) partial[p] = _mm256_setzero_ps();
    float sums[8];
    _mm256_storeu_ps(sums, horizontal_sums(partial));
    out[x] = std::min(std::max(sums[0] + b, range.min), range.max);
  }
}

}  // namespace

NarrowKernel narrow_kernel_for(const Graph& graph, const Operation& op) {
  if (!cpu_has_avx2_fma()) return NarrowKernel::None;
  if (op.type == OpType::DepthwiseConv2D && op.depth_multiplier == 1 && is_same_3x3(graph, op)) {
    const Shape shape = input_shape(graph, op);
    // Measured per BlazePose shape: ours is 3-9x faster up to 24 channels, and up to 1.5x faster over
    // 32x32 pixels and more at any width; on small maps with many channels XNNPACK is as fast or faster.
    if (shape.channels % 8 == 0 && (shape.channels <= 24 || shape.height * shape.width >= 32 * 32))
      return NarrowKernel::Depthwise3x3;
  }
  if (op.type == OpType::Conv2D && is_same_3x3(graph, op)) {
    const int channels = input_shape(graph, op).channels;
    const int out_channels = graph.tensors[static_cast<std::size_t>(op.output)].shape[3];
    if (out_channels == 1 && channels % 8 == 0 && channels <= 64) return NarrowKernel::Conv3x3ToOne;
  }
  return NarrowKernel::None;
}

void run_narrow_kernel(NarrowKernel kernel, const Graph& graph, const Operation& op, const float* input,
                       float* output, pthreadpool_t pool) {
  const Shape s = input_shape(graph, op);
  const float* weights = graph.tensors[static_cast<std::size_t>(op.inputs[1])].data.data();
  const float* bias = bias_of(graph, op);
  const OutputRange range = output_range(op.activation);
  switch (kernel) {
    case NarrowKernel::Depthwise3x3:
      pthreadpool_parallelize_1d(
          pool, [&](std::size_t y) { depthwise3x3_row(input, output, weights, bias, s, int(y), range); },
          std::size_t(s.height));
      return;
    case NarrowKernel::Conv3x3ToOne:
      pthreadpool_parallelize_1d(
          pool,
          [&](std::size_t y) {
            if (s.channels == 8) {  // the BlazePose segmentation head
              conv3x3_to_one_row<8>(input, output, weights, bias, s, int(y), range);
            } else {
              conv3x3_to_one_row<0>(input, output, weights, bias, s, int(y), range);
            }
          },
          std::size_t(s.height));
      return;
    case NarrowKernel::None: break;
  }
  throw Error("internal: no narrow kernel for this operator");
}

}  // namespace monobody::nn::detail
