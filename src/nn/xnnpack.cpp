// The fast backend: the whole graph becomes one XNNPACK subgraph, compiled into a runtime (weights
// packed once, intermediate buffers planned by XNNPACK) that runs on a pthreadpool.
//
// Debian's XNNPACK snapshot (2022-02) has no concatenate node. A concatenation is built from nodes it
// does have: each input is zero-padded along the axis to the output's shape at its offset, and the
// padded tensors are summed. x + 0 == x exactly in IEEE arithmetic, so the result is bit-identical to a
// copy; the extra work is a few passes over the concatenated tensor, which in these networks are the
// small final outputs.
#include <fmt/format.h>
#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <limits>
#include <monobody/error.hpp>

#include "backends.hpp"

namespace monobody::nn {
namespace {

void check(xnn_status status, const std::string& what) {
  if (status != xnn_status_success) throw Error(fmt::format("XNNPACK: {} failed (status {})", what, static_cast<int>(status)));
}

void initialize_xnnpack() {
  // Once per process; XNNPACK stays initialised until exit.
  static const xnn_status status = xnn_initialize(nullptr);
  check(status, "initialisation (is this CPU supported?)");
}

// XNNPACK kernels may read (never use) up to XNN_EXTRA_BYTES past the end of a tensor.
constexpr std::size_t kExtraFloats = (XNN_EXTRA_BYTES + sizeof(float) - 1) / sizeof(float);

struct SubgraphDeleter {
  void operator()(xnn_subgraph_t s) const { xnn_delete_subgraph(s); }
};
struct RuntimeDeleter {
  void operator()(xnn_runtime_t r) const { xnn_delete_runtime(r); }
};
struct PoolDeleter {
  void operator()(pthreadpool_t p) const { pthreadpool_destroy(p); }
};

class XnnpackModel final : public GraphModel {
 public:
  XnnpackModel(Graph graph, int threads);

  std::span<float> input(int i) override { return buffer(input_id(i)); }
  std::span<const float> output(int i) const override { return buffer(output_id(i)); }
  void invoke() override { check(xnn_invoke_runtime(runtime_.get()), "inference"); }

 private:
  std::vector<std::vector<float>> external_;     // by tensor index: buffers of graph inputs and outputs
  std::vector<std::vector<float>> zero_biases_;  // for convolutions without a bias
  std::vector<std::uint32_t> value_ids_;         // by tensor index, once defined in the subgraph
  std::unique_ptr<pthreadpool, PoolDeleter> pool_;
  std::unique_ptr<xnn_runtime, RuntimeDeleter> runtime_;

  std::span<float> buffer(int t) {
    return std::span<float>(external_[static_cast<std::size_t>(t)]).first(graph_.tensors[static_cast<std::size_t>(t)].elements);
  }
  std::span<const float> buffer(int t) const {
    return std::span<const float>(external_[static_cast<std::size_t>(t)]).first(graph_.tensors[static_cast<std::size_t>(t)].elements);
  }

  std::uint32_t value(xnn_subgraph_t subgraph, int t);
  std::uint32_t internal_value(xnn_subgraph_t subgraph, const std::vector<int>& shape);
  std::uint32_t zero_bias(xnn_subgraph_t subgraph, int channels);
  void define(xnn_subgraph_t subgraph, const Operation& op);
  void define_concatenation(xnn_subgraph_t subgraph, const Operation& op, std::uint32_t output);
};

XnnpackModel::XnnpackModel(Graph graph, int threads)
    : GraphModel(std::move(graph)), external_(graph_.tensors.size()), value_ids_(graph_.tensors.size(), XNN_INVALID_VALUE_ID) {
  initialize_xnnpack();
  for (Tensor& t : graph_.tensors) {
    if (t.is_constant) t.data.reserve(t.data.size() + kExtraFloats);  // keeps the data, adds readable slack
  }
  for (int id : graph_.inputs) external_[static_cast<std::size_t>(id)].resize(graph_.tensors[static_cast<std::size_t>(id)].elements + kExtraFloats);
  for (int id : graph_.outputs) external_[static_cast<std::size_t>(id)].resize(graph_.tensors[static_cast<std::size_t>(id)].elements + kExtraFloats);

  xnn_subgraph_t raw_subgraph = nullptr;
  check(xnn_create_subgraph(static_cast<std::uint32_t>(graph_.tensors.size()), 0, &raw_subgraph), "creating a subgraph");
  const std::unique_ptr<xnn_subgraph, SubgraphDeleter> subgraph(raw_subgraph);
  for (std::size_t i = 0; i < graph_.operations.size(); ++i) {
    const Operation& op = graph_.operations[i];
    try {
      define(subgraph.get(), op);
    } catch (const Error& e) {
      throw Error(fmt::format("operator {} ({}): {}", i, op_type_name(op.type), e.what()));
    }
  }

  if (threads > 1) {
    pool_.reset(pthreadpool_create(static_cast<std::size_t>(threads)));
    if (!pool_) throw Error(fmt::format("cannot create a pool of {} threads", threads));
  }
  xnn_runtime_t raw_runtime = nullptr;
  check(xnn_create_runtime_v2(subgraph.get(), pool_.get(), 0, &raw_runtime), "creating the runtime");
  runtime_.reset(raw_runtime);

  // The external buffers never move, so the runtime is set up once.
  std::vector<xnn_external_value> externals;
  for (const auto& ids : {graph_.inputs, graph_.outputs}) {
    for (int id : ids) externals.push_back({static_cast<std::uint32_t>(id), external_[static_cast<std::size_t>(id)].data()});
  }
  check(xnn_setup_runtime(runtime_.get(), externals.size(), externals.data()), "setting up the runtime");
}

std::vector<std::size_t> dims(const std::vector<int>& shape) { return {shape.begin(), shape.end()}; }

std::uint32_t XnnpackModel::value(xnn_subgraph_t subgraph, int t) {
  if (t < 0) return XNN_INVALID_VALUE_ID;
  std::uint32_t& id = value_ids_[static_cast<std::size_t>(t)];
  if (id != XNN_INVALID_VALUE_ID) return id;
  const Tensor& tensor = graph_.tensors[static_cast<std::size_t>(t)];
  const auto& inputs = graph_.inputs;
  const auto& outputs = graph_.outputs;
  std::uint32_t flags = 0;
  if (std::find(inputs.begin(), inputs.end(), t) != inputs.end()) flags |= XNN_VALUE_FLAG_EXTERNAL_INPUT;
  if (std::find(outputs.begin(), outputs.end(), t) != outputs.end()) flags |= XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
  const std::vector<std::size_t> shape = dims(tensor.shape);
  check(xnn_define_tensor_value(subgraph, xnn_datatype_fp32, shape.size(), shape.data(),
                                tensor.is_constant ? tensor.data.data() : nullptr,
                                flags != 0 ? static_cast<std::uint32_t>(t) : XNN_INVALID_VALUE_ID, flags, &id),
        fmt::format("defining tensor {} '{}'", t, tensor.name));
  return id;
}

std::uint32_t XnnpackModel::internal_value(xnn_subgraph_t subgraph, const std::vector<int>& shape) {
  const std::vector<std::size_t> d = dims(shape);
  std::uint32_t id = XNN_INVALID_VALUE_ID;
  check(xnn_define_tensor_value(subgraph, xnn_datatype_fp32, d.size(), d.data(), nullptr, XNN_INVALID_VALUE_ID, 0, &id),
        "defining an intermediate tensor");
  return id;
}

std::uint32_t XnnpackModel::zero_bias(xnn_subgraph_t subgraph, int channels) {
  // Growing the outer vector moves the inner buffers without copying them: pointers given to XNNPACK hold.
  zero_biases_.emplace_back(static_cast<std::size_t>(channels) + kExtraFloats, 0.0f);
  const std::size_t d[1] = {static_cast<std::size_t>(channels)};
  std::uint32_t id = XNN_INVALID_VALUE_ID;
  check(xnn_define_tensor_value(subgraph, xnn_datatype_fp32, 1, d, zero_biases_.back().data(), XNN_INVALID_VALUE_ID, 0, &id),
        "defining a zero bias");
  return id;
}

void XnnpackModel::define(xnn_subgraph_t subgraph, const Operation& op) {
  const OutputRange range = output_range(op.activation);
  const Tensor& out_tensor = graph_.tensors[static_cast<std::size_t>(op.output)];
  const std::uint32_t out = value(subgraph, op.output);
  auto in = [&](std::size_t i) { return value(subgraph, op.inputs[i]); };
  auto shape = [&](std::size_t i) -> const std::vector<int>& { return graph_.tensors[static_cast<std::size_t>(op.inputs[i])].shape; };
  const Window& w = op.window;
  const auto u = [](int v) { return static_cast<std::uint32_t>(v); };
  switch (op.type) {
    case OpType::Conv2D: {
      const int out_channels = shape(1)[0];
      const std::uint32_t bias = op.inputs[2] >= 0 ? in(2) : zero_bias(subgraph, out_channels);
      check(xnn_define_convolution_2d(subgraph, u(w.pad_top), u(w.pad_right), u(w.pad_bottom), u(w.pad_left),
                                      u(w.kernel_h), u(w.kernel_w), u(w.stride_h), u(w.stride_w), u(w.dilation_h),
                                      u(w.dilation_w), 1, static_cast<std::size_t>(shape(0)[3]),
                                      static_cast<std::size_t>(out_channels), range.min, range.max, in(0), in(1), bias,
                                      out, 0),
            "defining a convolution");
      break;
    }
    case OpType::DepthwiseConv2D: {
      const int out_channels = shape(1)[3];
      const std::uint32_t bias = op.inputs[2] >= 0 ? in(2) : zero_bias(subgraph, out_channels);
      check(xnn_define_depthwise_convolution_2d(
                subgraph, u(w.pad_top), u(w.pad_right), u(w.pad_bottom), u(w.pad_left), u(w.kernel_h), u(w.kernel_w),
                u(w.stride_h), u(w.stride_w), u(w.dilation_h), u(w.dilation_w), u(op.depth_multiplier),
                static_cast<std::size_t>(shape(0)[3]), range.min, range.max, in(0), in(1), bias, out, 0),
            "defining a depthwise convolution");
      break;
    }
    case OpType::MaxPool2D:
      check(xnn_define_max_pooling_2d(subgraph, u(w.pad_top), u(w.pad_right), u(w.pad_bottom), u(w.pad_left),
                                      u(w.kernel_h), u(w.kernel_w), u(w.stride_h), u(w.stride_w), 1, 1, range.min,
                                      range.max, in(0), out, 0),
            "defining a max pooling");
      break;
    case OpType::Add:
      check(xnn_define_add2(subgraph, range.min, range.max, in(0), in(1), out, 0), "defining an addition");
      break;
    case OpType::Logistic: check(xnn_define_sigmoid(subgraph, in(0), out, 0), "defining a sigmoid"); break;
    case OpType::Pad: {
      const std::vector<std::size_t> before(op.pad_before.begin(), op.pad_before.end());
      const std::vector<std::size_t> after(op.pad_after.begin(), op.pad_after.end());
      check(xnn_define_static_constant_pad(subgraph, before.data(), after.data(), 0.0f, in(0), out, 0), "defining a pad");
      break;
    }
    case OpType::Reshape: {
      const std::vector<std::size_t> d = dims(out_tensor.shape);
      check(xnn_define_static_reshape(subgraph, d.size(), d.data(), in(0), out, 0), "defining a reshape");
      break;
    }
    case OpType::ResizeBilinear: {
      // XNNPACK's default mapping is half-pixel centres; TFLite's default is the legacy top-left one.
      const std::uint32_t flags = op.align_corners ? XNN_FLAG_ALIGN_CORNERS
                                  : op.half_pixel_centers ? 0u
                                                          : XNN_FLAG_TENSORFLOW_LEGACY_MODE;
      check(xnn_define_static_resize_bilinear_2d(subgraph, static_cast<std::size_t>(out_tensor.shape[1]),
                                                 static_cast<std::size_t>(out_tensor.shape[2]), in(0), out, flags),
            "defining a bilinear resize");
      break;
    }
    case OpType::DepthToSpace:
      check(xnn_define_depth_to_space(subgraph, in(0), out, u(op.block_size), 0), "defining a depth-to-space");
      break;
    case OpType::Concatenation: define_concatenation(subgraph, op, out); break;
  }
}

void XnnpackModel::define_concatenation(xnn_subgraph_t subgraph, const Operation& op, std::uint32_t output) {
  const std::vector<int>& out_shape = graph_.tensors[static_cast<std::size_t>(op.output)].shape;
  const auto axis = static_cast<std::size_t>(op.axis);
  const auto total = static_cast<std::size_t>(out_shape[axis]);
  const std::size_t count = op.inputs.size();
  if (count == 1) {  // a copy
    const std::vector<std::size_t> d = dims(out_shape);
    check(xnn_define_static_reshape(subgraph, d.size(), d.data(), value(subgraph, op.inputs[0]), output, 0),
          "defining a copy");
    return;
  }
  std::size_t offset = 0;
  std::uint32_t sum = XNN_INVALID_VALUE_ID;
  for (std::size_t i = 0; i < count; ++i) {
    const int t = op.inputs[i];
    const auto size = static_cast<std::size_t>(graph_.tensors[static_cast<std::size_t>(t)].shape[axis]);
    std::vector<std::size_t> before(out_shape.size(), 0), after(out_shape.size(), 0);
    before[axis] = offset;
    after[axis] = total - offset - size;
    offset += size;
    const std::uint32_t placed = internal_value(subgraph, out_shape);
    check(xnn_define_static_constant_pad(subgraph, before.data(), after.data(), 0.0f, value(subgraph, t), placed, 0),
          "defining a concatenation's pad");
    if (i == 0) {
      sum = placed;
      continue;
    }
    const std::uint32_t next = i + 1 == count ? output : internal_value(subgraph, out_shape);
    const float inf = std::numeric_limits<float>::infinity();
    check(xnn_define_add2(subgraph, -inf, inf, sum, placed, next, 0), "defining a concatenation's sum");
    sum = next;
  }
}

}  // namespace

std::unique_ptr<Model> make_xnnpack_model(Graph graph, int threads) {
  return std::make_unique<XnnpackModel>(std::move(graph), threads);
}

}  // namespace monobody::nn
