// The reference backend: one plain kernel per operator, written for clarity (NHWC float32, direct loops,
// TFLite's definitions), and an executor that runs them in order over one preallocated buffer per tensor.
// It is the oracle the XNNPACK backend is tested against, not a fast path.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <monobody/error.hpp>

#include "backends.hpp"

namespace monobody::nn {
namespace {

struct View {
  const float* data;
  const std::vector<int>& shape;
};

float clamp(float v, OutputRange range) { return std::min(std::max(v, range.min), range.max); }

std::size_t dim(const std::vector<int>& shape, int d) { return static_cast<std::size_t>(shape[static_cast<std::size_t>(d)]); }

// out[n,oy,ox,oc] = bias[oc] + sum over ky,kx,ic of x[n, oy*s - pad + ky*d, ox*s - pad + kx*d, ic] * w[oc,ky,kx,ic]
void conv2d(const Operation& op, View x, View w, const float* bias, float* out, const std::vector<int>& out_shape) {
  const Window& win = op.window;
  const std::size_t N = dim(x.shape, 0), H = dim(x.shape, 1), W = dim(x.shape, 2), Ci = dim(x.shape, 3);
  const std::size_t OH = dim(out_shape, 1), OW = dim(out_shape, 2), Co = dim(out_shape, 3);
  const std::size_t KH = dim(w.shape, 1), KW = dim(w.shape, 2);
  const OutputRange range = output_range(op.activation);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox)
        for (std::size_t oc = 0; oc < Co; ++oc) {
          float acc = bias != nullptr ? bias[oc] : 0.0f;
          for (std::size_t ky = 0; ky < KH; ++ky) {
            const long iy = static_cast<long>(oy) * win.stride_h - win.pad_top + static_cast<long>(ky) * win.dilation_h;
            if (iy < 0 || iy >= static_cast<long>(H)) continue;
            for (std::size_t kx = 0; kx < KW; ++kx) {
              const long ix = static_cast<long>(ox) * win.stride_w - win.pad_left + static_cast<long>(kx) * win.dilation_w;
              if (ix < 0 || ix >= static_cast<long>(W)) continue;
              const float* xp = x.data + ((n * H + static_cast<std::size_t>(iy)) * W + static_cast<std::size_t>(ix)) * Ci;
              const float* wp = w.data + ((oc * KH + ky) * KW + kx) * Ci;
              for (std::size_t ic = 0; ic < Ci; ++ic) acc += xp[ic] * wp[ic];
            }
          }
          out[((n * OH + oy) * OW + ox) * Co + oc] = clamp(acc, range);
        }
}

// Output channel c*M + m filters input channel c with filter taps w[0,ky,kx,c*M + m].
void depthwise_conv2d(const Operation& op, View x, View w, const float* bias, float* out,
                      const std::vector<int>& out_shape) {
  const Window& win = op.window;
  const std::size_t N = dim(x.shape, 0), H = dim(x.shape, 1), W = dim(x.shape, 2), C = dim(x.shape, 3);
  const std::size_t OH = dim(out_shape, 1), OW = dim(out_shape, 2), Co = dim(out_shape, 3);
  const std::size_t KH = dim(w.shape, 1), KW = dim(w.shape, 2);
  const auto M = static_cast<std::size_t>(op.depth_multiplier);
  const OutputRange range = output_range(op.activation);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox)
        for (std::size_t oc = 0; oc < Co; ++oc) {
          const std::size_t c = oc / M;
          float acc = bias != nullptr ? bias[oc] : 0.0f;
          for (std::size_t ky = 0; ky < KH; ++ky) {
            const long iy = static_cast<long>(oy) * win.stride_h - win.pad_top + static_cast<long>(ky) * win.dilation_h;
            if (iy < 0 || iy >= static_cast<long>(H)) continue;
            for (std::size_t kx = 0; kx < KW; ++kx) {
              const long ix = static_cast<long>(ox) * win.stride_w - win.pad_left + static_cast<long>(kx) * win.dilation_w;
              if (ix < 0 || ix >= static_cast<long>(W)) continue;
              acc += x.data[((n * H + static_cast<std::size_t>(iy)) * W + static_cast<std::size_t>(ix)) * C + c] *
                     w.data[(ky * KW + kx) * Co + oc];
            }
          }
          out[((n * OH + oy) * OW + ox) * Co + oc] = clamp(acc, range);
        }
}

// Max over the window positions inside the input (padding never wins).
void max_pool2d(const Operation& op, View x, float* out, const std::vector<int>& out_shape) {
  const Window& win = op.window;
  const std::size_t N = dim(x.shape, 0), H = dim(x.shape, 1), W = dim(x.shape, 2), C = dim(x.shape, 3);
  const std::size_t OH = dim(out_shape, 1), OW = dim(out_shape, 2);
  const OutputRange range = output_range(op.activation);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox)
        for (std::size_t c = 0; c < C; ++c) {
          float best = -std::numeric_limits<float>::infinity();
          for (int ky = 0; ky < win.kernel_h; ++ky) {
            const long iy = static_cast<long>(oy) * win.stride_h - win.pad_top + ky;
            if (iy < 0 || iy >= static_cast<long>(H)) continue;
            for (int kx = 0; kx < win.kernel_w; ++kx) {
              const long ix = static_cast<long>(ox) * win.stride_w - win.pad_left + kx;
              if (ix < 0 || ix >= static_cast<long>(W)) continue;
              best = std::max(best, x.data[((n * H + static_cast<std::size_t>(iy)) * W + static_cast<std::size_t>(ix)) * C + c]);
            }
          }
          out[((n * OH + oy) * OW + ox) * C + c] = clamp(best, range);
        }
}

void add(const Operation& op, const float* a, const float* b, float* out, std::size_t count) {
  const OutputRange range = output_range(op.activation);
  for (std::size_t i = 0; i < count; ++i) out[i] = clamp(a[i] + b[i], range);
}

void logistic(const float* x, float* out, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = 1.0f / (1.0f + std::exp(-x[i]));
}

// Zero padding of a tensor of any rank up to 6, seen as 6-D with leading dimensions of 1.
void pad(const Operation& op, View x, float* out, const std::vector<int>& out_shape) {
  constexpr int R = 6;
  const int rank = static_cast<int>(x.shape.size());
  std::array<std::size_t, R> in{}, outd{}, before{};
  for (int d = 0; d < R; ++d) {
    const int src = d - (R - rank);
    in[d] = src >= 0 ? dim(x.shape, src) : 1;
    outd[d] = src >= 0 ? dim(out_shape, src) : 1;
    before[d] = src >= 0 ? static_cast<std::size_t>(op.pad_before[static_cast<std::size_t>(src)]) : 0;
  }
  std::size_t total = 1;
  for (std::size_t v : outd) total *= v;
  std::fill(out, out + total, 0.0f);
  std::size_t i = 0;
  for (std::size_t a = 0; a < in[0]; ++a)
    for (std::size_t b = 0; b < in[1]; ++b)
      for (std::size_t c = 0; c < in[2]; ++c)
        for (std::size_t d = 0; d < in[3]; ++d)
          for (std::size_t e = 0; e < in[4]; ++e)
            for (std::size_t f = 0; f < in[5]; ++f) {
              const std::size_t o =
                  (((((a + before[0]) * outd[1] + b + before[1]) * outd[2] + c + before[2]) * outd[3] + d + before[3]) *
                       outd[4] + e + before[4]) * outd[5] + f + before[5];
              out[o] = x.data[i++];
            }
}

// TFLite's bilinear resize: source coordinate from the output one (half-pixel centres, aligned corners or
// the legacy top-left mapping), the 2x2 neighbours clamped to the image.
void resize_bilinear(const Operation& op, View x, float* out, const std::vector<int>& out_shape) {
  const std::size_t N = dim(x.shape, 0), H = dim(x.shape, 1), W = dim(x.shape, 2), C = dim(x.shape, 3);
  const std::size_t OH = dim(out_shape, 1), OW = dim(out_shape, 2);
  auto scale = [&](std::size_t in, std::size_t o) {
    return op.align_corners && o > 1 ? static_cast<float>(in - 1) / static_cast<float>(o - 1)
                                     : static_cast<float>(in) / static_cast<float>(o);
  };
  const float sy = scale(H, OH), sx = scale(W, OW);
  auto source = [&](std::size_t o, float s) {
    return op.half_pixel_centers ? (static_cast<float>(o) + 0.5f) * s - 0.5f : static_cast<float>(o) * s;
  };
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t oy = 0; oy < OH; ++oy) {
      const float fy = source(oy, sy);
      const float y_floor = std::floor(fy);
      const auto y0 = static_cast<std::size_t>(std::max(y_floor, 0.0f));
      const auto y1 = std::min(static_cast<std::size_t>(std::max(std::ceil(fy), 0.0f)), H - 1);
      const float wy = fy - y_floor;
      for (std::size_t ox = 0; ox < OW; ++ox) {
        const float fx = source(ox, sx);
        const float x_floor = std::floor(fx);
        const auto x0 = static_cast<std::size_t>(std::max(x_floor, 0.0f));
        const auto x1 = std::min(static_cast<std::size_t>(std::max(std::ceil(fx), 0.0f)), W - 1);
        const float wx = fx - x_floor;
        for (std::size_t c = 0; c < C; ++c) {
          auto at = [&](std::size_t yy, std::size_t xx) { return x.data[((n * H + yy) * W + xx) * C + c]; };
          const float top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx;
          const float bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx;
          out[((n * OH + oy) * OW + ox) * C + c] = top * (1 - wy) + bottom * wy;
        }
      }
    }
}

// out[n, y*b + by, x*b + bx, c] = in[n, y, x, (by*b + bx)*C + c]
void depth_to_space(const Operation& op, View x, float* out) {
  const std::size_t N = dim(x.shape, 0), H = dim(x.shape, 1), W = dim(x.shape, 2), Ci = dim(x.shape, 3);
  const auto b = static_cast<std::size_t>(op.block_size);
  const std::size_t C = Ci / (b * b);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t y = 0; y < H; ++y)
      for (std::size_t by = 0; by < b; ++by)
        for (std::size_t xx = 0; xx < W; ++xx)
          for (std::size_t bx = 0; bx < b; ++bx)
            for (std::size_t c = 0; c < C; ++c) {
              out[((n * H * b + y * b + by) * W * b + xx * b + bx) * C + c] =
                  x.data[((n * H + y) * W + xx) * Ci + (by * b + bx) * C + c];
            }
}

// Each input contributes a contiguous run of `inner` values per outer index. `view(i)` is input i.
template <typename InputView>
void concatenation(const Operation& op, InputView view, float* out) {
  const std::size_t count = op.inputs.size();
  const std::vector<int>& first = view(0).shape;
  std::size_t outer = 1;
  for (int d = 0; d < op.axis; ++d) outer *= dim(first, d);
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t i = 0; i < count; ++i) {
      const View x = view(i);
      std::size_t inner = 1;
      for (int d = op.axis; d < static_cast<int>(x.shape.size()); ++d) inner *= dim(x.shape, d);
      std::copy_n(x.data + o * inner, inner, out);
      out += inner;
    }
  }
}

class ReferenceModel final : public GraphModel {
 public:
  explicit ReferenceModel(Graph graph) : GraphModel(std::move(graph)), values_(graph_.tensors.size()) {
    for (const Operation& op : graph_.operations) {
      values_[static_cast<std::size_t>(op.output)].resize(graph_.tensors[static_cast<std::size_t>(op.output)].elements);
    }
    for (int id : graph_.inputs) values_[static_cast<std::size_t>(id)].resize(graph_.tensors[static_cast<std::size_t>(id)].elements);
  }

  std::span<float> input(int i) override { return values_[static_cast<std::size_t>(input_id(i))]; }
  std::span<const float> output(int i) const override { return values_[static_cast<std::size_t>(output_id(i))]; }

  void invoke() override {
    for (const Operation& op : graph_.operations) run(op);
  }

 private:
  std::vector<std::vector<float>> values_;  // one buffer per computed tensor and input

  const float* data(int t) const {
    if (t < 0) return nullptr;
    const Tensor& tensor = graph_.tensors[static_cast<std::size_t>(t)];
    return tensor.is_constant ? tensor.data.data() : values_[static_cast<std::size_t>(t)].data();
  }
  View view(int t) const { return {data(t), graph_.tensors[static_cast<std::size_t>(t)].shape}; }

  void run(const Operation& op) {
    const Tensor& out_tensor = graph_.tensors[static_cast<std::size_t>(op.output)];
    float* out = values_[static_cast<std::size_t>(op.output)].data();
    const std::vector<int>& out_shape = out_tensor.shape;
    switch (op.type) {
      case OpType::Conv2D: conv2d(op, view(op.inputs[0]), view(op.inputs[1]), data(op.inputs[2]), out, out_shape); break;
      case OpType::DepthwiseConv2D:
        depthwise_conv2d(op, view(op.inputs[0]), view(op.inputs[1]), data(op.inputs[2]), out, out_shape);
        break;
      case OpType::MaxPool2D: max_pool2d(op, view(op.inputs[0]), out, out_shape); break;
      case OpType::Add: add(op, data(op.inputs[0]), data(op.inputs[1]), out, out_tensor.elements); break;
      case OpType::Logistic: logistic(data(op.inputs[0]), out, out_tensor.elements); break;
      case OpType::Pad: pad(op, view(op.inputs[0]), out, out_shape); break;
      case OpType::Reshape: std::copy_n(data(op.inputs[0]), out_tensor.elements, out); break;
      case OpType::ResizeBilinear: resize_bilinear(op, view(op.inputs[0]), out, out_shape); break;
      case OpType::DepthToSpace: depth_to_space(op, view(op.inputs[0]), out); break;
      case OpType::Concatenation:
        concatenation(op, [&](std::size_t i) { return view(op.inputs[i]); }, out);
        break;
    }
  }
};

}  // namespace

std::unique_ptr<Model> make_reference_model(Graph graph) { return std::make_unique<ReferenceModel>(std::move(graph)); }

}  // namespace monobody::nn
