// The fast backend: the graph becomes XNNPACK subgraphs, each compiled into a runtime (weights packed
// once, intermediate buffers planned by XNNPACK) that runs on a pthreadpool. Where XNNPACK is slow (3x3
// convolutions over few channels, narrow_kernels.hpp) our own kernels run instead, and the graph is split
// into one XNNPACK runtime per run of operators between them; tensors passed between the parts live in
// buffers of ours.
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
#include <atomic>
#include <chrono>
#include <limits>
#include <monobody/error.hpp>

#include "backends.hpp"
#include "narrow_kernels.hpp"

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

// A zero PAD of height and width that only feeds convolutions becomes part of their windows' implicit
// padding: the same result without writing and re-reading the padded tensor. Returns which operations
// (the PADs) are no longer needed; the convolutions are rewritten in place.
std::vector<bool> fold_pads_into_convolutions(Graph& graph) {
  const std::size_t count = graph.operations.size();
  std::vector<int> producer(graph.tensors.size(), -1);
  std::vector<bool> only_convolutions(graph.tensors.size(), true);
  for (std::size_t i = 0; i < count; ++i) {
    const Operation& op = graph.operations[i];
    producer[static_cast<std::size_t>(op.output)] = static_cast<int>(i);
    for (std::size_t k = 0; k < op.inputs.size(); ++k) {
      const int t = op.inputs[k];
      if (t < 0) continue;
      const bool convolution = op.type == OpType::Conv2D || op.type == OpType::DepthwiseConv2D;
      if (!convolution || k != 0) only_convolutions[static_cast<std::size_t>(t)] = false;
    }
  }
  for (int t : graph.outputs) only_convolutions[static_cast<std::size_t>(t)] = false;
  std::vector<bool> folded(count, false);
  for (std::size_t i = 0; i < count; ++i) {
    Operation& op = graph.operations[i];
    const bool convolution = op.type == OpType::Conv2D || op.type == OpType::DepthwiseConv2D;
    if (!convolution) continue;
    const int p = producer[static_cast<std::size_t>(op.inputs[0])];
    if (p < 0) continue;
    const Operation& pad = graph.operations[static_cast<std::size_t>(p)];
    const bool spatial_only = pad.type == OpType::Pad && pad.pad_before.size() == 4 && pad.pad_before[0] == 0 &&
                              pad.pad_after[0] == 0 && pad.pad_before[3] == 0 && pad.pad_after[3] == 0;
    if (!spatial_only || !only_convolutions[static_cast<std::size_t>(pad.output)]) continue;
    op.inputs[0] = pad.inputs[0];
    op.window.pad_top += pad.pad_before[1];
    op.window.pad_bottom += pad.pad_after[1];
    op.window.pad_left += pad.pad_before[2];
    op.window.pad_right += pad.pad_after[2];
    folded[static_cast<std::size_t>(p)] = true;
  }
  return folded;
}

class XnnpackModel final : public GraphModel {
 public:
  XnnpackModel(Graph graph, int threads, bool own_kernels);

  std::span<float> input(int i) override { return buffer(input_id(i)); }
  std::span<const float> output(int i) const override { return buffer(output_id(i)); }
  void invoke() override;

 private:
  // One XNNPACK runtime over a run of operators, or one operator on our own kernel.
  struct Step {
    std::unique_ptr<xnn_runtime, RuntimeDeleter> runtime;           // on the pool (if there is one)
    std::unique_ptr<xnn_runtime, RuntimeDeleter> serial_runtime;    // on the calling thread, when there is a pool
    detail::NarrowKernel kernel = detail::NarrowKernel::None;  // None: an XNNPACK step
    std::vector<int> operations;  // in order; one for a kernel of ours
  };

  std::vector<std::vector<float>> external_;     // by tensor index: graph inputs, outputs, tensors between steps
  std::vector<std::vector<float>> zero_biases_;  // for convolutions without a bias
  std::vector<int> producer_step_;               // by tensor index; -1 for graph inputs and constants
  std::vector<std::uint32_t> value_ids_;         // by tensor index, once defined in the current subgraph
  int defining_step_ = -1;
  std::unique_ptr<pthreadpool, PoolDeleter> pool_;
  std::vector<Step> steps_;

  // With a pool, each inference runs either on it or on the calling thread alone, whichever has lately been
  // faster. The pool waits for all its threads after every operator, so when other programs occupy the cores
  // a pool of 2 on 2 cores was measured 4-30x slower than one thread (a worker off its core stalls every
  // operator for a scheduler time slice). Both ways give bit-identical results.
  struct Timing {
    double milliseconds = -1;  // moving average; < 0 until measured
    void add(double ms, bool fresh) { milliseconds = milliseconds < 0 || fresh ? ms : 0.7 * milliseconds + 0.3 * ms; }
  };
  Timing parallel_, serial_;
  int invocations_ = 0;
  int next_probe_ = 3;       // invocation at which the way not preferred is tried again (the 1st is a warm-up)
  int probe_interval_ = 32;  // doubles (to 1024) each time a probe loses
  std::chrono::steady_clock::time_point serial_until_{};
  void run(bool parallel);

  std::span<float> buffer(int t) {
    return std::span<float>(external_[static_cast<std::size_t>(t)]).first(graph_.tensors[static_cast<std::size_t>(t)].elements);
  }
  std::span<const float> buffer(int t) const {
    return std::span<const float>(external_[static_cast<std::size_t>(t)]).first(graph_.tensors[static_cast<std::size_t>(t)].elements);
  }

  void plan_steps(const std::vector<bool>& folded, bool own_kernels);
  void build_runtime(int step, bool parallel);
  std::uint32_t value(xnn_subgraph_t subgraph, int t);
  std::uint32_t internal_value(xnn_subgraph_t subgraph, const std::vector<int>& shape);
  std::uint32_t zero_bias(xnn_subgraph_t subgraph, int channels);
  void define(xnn_subgraph_t subgraph, const Operation& op);
  void define_concatenation(xnn_subgraph_t subgraph, const Operation& op, std::uint32_t output);
};

XnnpackModel::XnnpackModel(Graph graph, int threads, bool own_kernels)
    : GraphModel(std::move(graph)),
      external_(graph_.tensors.size()),
      producer_step_(graph_.tensors.size(), -1),
      value_ids_(graph_.tensors.size(), XNN_INVALID_VALUE_ID) {
  initialize_xnnpack();
  for (Tensor& t : graph_.tensors) {
    if (t.is_constant) t.data.reserve(t.data.size() + kExtraFloats);  // keeps the data, adds readable slack
  }
  if (threads > 1) {
    pool_.reset(pthreadpool_create(static_cast<std::size_t>(threads)));
    if (!pool_) throw Error(fmt::format("cannot create a pool of {} threads", threads));
  }
  plan_steps(fold_pads_into_convolutions(graph_), own_kernels);
  for (std::size_t s = 0; s < steps_.size(); ++s) {
    if (steps_[s].kernel != detail::NarrowKernel::None) continue;
    build_runtime(static_cast<int>(s), true);
    if (pool_) build_runtime(static_cast<int>(s), false);
  }
}

// Groups the operators into steps and gives a buffer of ours to every tensor that crosses a step (or is a
// graph input or output).
void XnnpackModel::plan_steps(const std::vector<bool>& folded, bool own_kernels) {
  for (std::size_t i = 0; i < graph_.operations.size(); ++i) {
    if (folded[i]) continue;
    const Operation& op = graph_.operations[i];
    const detail::NarrowKernel kernel = own_kernels ? detail::narrow_kernel_for(graph_, op) : detail::NarrowKernel::None;
    if (kernel != detail::NarrowKernel::None) {
      steps_.push_back({.runtime = nullptr, .serial_runtime = nullptr, .kernel = kernel, .operations = {static_cast<int>(i)}});
    } else {
      if (steps_.empty() || steps_.back().kernel != detail::NarrowKernel::None) steps_.emplace_back();
      steps_.back().operations.push_back(static_cast<int>(i));
    }
    producer_step_[static_cast<std::size_t>(op.output)] = static_cast<int>(steps_.size()) - 1;
  }
  std::vector<bool> needs_buffer(graph_.tensors.size(), false);
  for (int id : graph_.inputs) needs_buffer[static_cast<std::size_t>(id)] = true;
  for (int id : graph_.outputs) needs_buffer[static_cast<std::size_t>(id)] = true;
  for (std::size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    for (int i : step.operations) {
      const Operation& op = graph_.operations[static_cast<std::size_t>(i)];
      if (step.kernel != detail::NarrowKernel::None) needs_buffer[static_cast<std::size_t>(op.output)] = true;
      for (int t : op.inputs) {
        if (t < 0 || graph_.tensors[static_cast<std::size_t>(t)].is_constant) continue;
        if (producer_step_[static_cast<std::size_t>(t)] != static_cast<int>(s)) needs_buffer[static_cast<std::size_t>(t)] = true;
      }
    }
  }
  for (std::size_t t = 0; t < graph_.tensors.size(); ++t) {
    if (needs_buffer[t]) external_[t].resize(graph_.tensors[t].elements + kExtraFloats);
  }
}

void XnnpackModel::build_runtime(int step, bool parallel) {
  xnn_subgraph_t raw_subgraph = nullptr;
  check(xnn_create_subgraph(static_cast<std::uint32_t>(graph_.tensors.size()), 0, &raw_subgraph), "creating a subgraph");
  const std::unique_ptr<xnn_subgraph, SubgraphDeleter> subgraph(raw_subgraph);
  std::fill(value_ids_.begin(), value_ids_.end(), XNN_INVALID_VALUE_ID);
  defining_step_ = step;
  for (int i : steps_[static_cast<std::size_t>(step)].operations) {
    const Operation& op = graph_.operations[static_cast<std::size_t>(i)];
    try {
      define(subgraph.get(), op);
    } catch (const Error& e) {
      throw Error(fmt::format("operator {} ({}): {}", i, op_type_name(op.type), e.what()));
    }
  }
  xnn_runtime_t raw_runtime = nullptr;
  // Yielding lets idle workers sleep between inferences instead of spinning: the pipeline does other
  // work between them, and the machine is shared.
  check(xnn_create_runtime_v2(subgraph.get(), parallel ? pool_.get() : nullptr, XNN_FLAG_YIELD_WORKERS, &raw_runtime),
        "creating the runtime");
  Step& s = steps_[static_cast<std::size_t>(step)];
  auto& runtime = parallel ? s.runtime : s.serial_runtime;
  runtime.reset(raw_runtime);

  // Our buffers never move, so each runtime is set up once.
  std::vector<xnn_external_value> externals;
  for (std::size_t t = 0; t < graph_.tensors.size(); ++t) {
    if (value_ids_[t] != XNN_INVALID_VALUE_ID && !external_[t].empty()) {
      externals.push_back({static_cast<std::uint32_t>(t), external_[t].data()});
    }
  }
  check(xnn_setup_runtime(runtime.get(), externals.size(), externals.data()), "setting up the runtime");
}

void XnnpackModel::run(bool parallel) {
  for (const Step& step : steps_) {
    if (step.runtime) {
      check(xnn_invoke_runtime(parallel || !step.serial_runtime ? step.runtime.get() : step.serial_runtime.get()),
            "inference");
      continue;
    }
    const Operation& op = graph_.operations[static_cast<std::size_t>(step.operations.front())];
    detail::run_narrow_kernel(step.kernel, graph_, op, external_[static_cast<std::size_t>(op.inputs[0])].data(),
                              external_[static_cast<std::size_t>(op.output)].data(), parallel ? pool_.get() : nullptr);
  }
}

// What the latest model to time both ways found: one thread's time over the pool's (< 0: nobody has yet).
// A model loaded later starts from it, so that on busy cores even its first inferences avoid the pool.
std::atomic<double> g_pool_speedup{-1.0};

// Whether the pool's threads are off their cores: an empty task on the pool takes tens of microseconds
// when its workers have cores to wake up on, and a scheduler time slice (measured 10-16 ms here) when other
// programs hold the cores. Every operator of a network pays that wait once.
bool pool_is_contended(pthreadpool_t pool) {
  const auto start = std::chrono::steady_clock::now();
  pthreadpool_parallelize_1d(pool, [](std::size_t) {}, pthreadpool_get_threads_count(pool));
  return std::chrono::steady_clock::now() - start > std::chrono::milliseconds(1);
}

void XnnpackModel::invoke() {
  if (!pool_) return run(false);
  // While the cores are busy elsewhere, one thread, with a look at the pool again half a second later.
  const auto now = std::chrono::steady_clock::now();
  if (now < serial_until_) return run(false);
  if (pool_is_contended(pool_.get())) {
    serial_until_ = now + std::chrono::milliseconds(500);
    return run(false);
  }
  ++invocations_;
  bool prefer_parallel = true;
  if (parallel_.milliseconds >= 0 && serial_.milliseconds >= 0) {
    prefer_parallel = parallel_.milliseconds <= serial_.milliseconds;
  } else if (serial_.milliseconds < 0) {
    const double speedup = g_pool_speedup.load(std::memory_order_relaxed);
    prefer_parallel = speedup < 0 || speedup >= 1.0;
  }
  const bool probe = invocations_ >= next_probe_;
  const bool parallel = prefer_parallel != probe;
  const auto start = std::chrono::steady_clock::now();
  run(parallel);
  if (invocations_ == 1) return;  // first touches of the buffers: not a measure of either way
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // A probe's time replaces the other way's old average: it measures the machine as it is now.
  (parallel ? parallel_ : serial_).add(ms, probe);
  if (parallel_.milliseconds >= 0 && serial_.milliseconds >= 0)
    g_pool_speedup.store(serial_.milliseconds / parallel_.milliseconds, std::memory_order_relaxed);
  if (probe) {
    const bool probe_won = parallel == (parallel_.milliseconds <= serial_.milliseconds);
    probe_interval_ = probe_won ? 32 : std::min(2 * probe_interval_, 1024);
    next_probe_ = invocations_ + probe_interval_;
  }
}

std::vector<std::size_t> dims(const std::vector<int>& shape) { return {shape.begin(), shape.end()}; }

std::uint32_t XnnpackModel::value(xnn_subgraph_t subgraph, int t) {
  if (t < 0) return XNN_INVALID_VALUE_ID;
  std::uint32_t& id = value_ids_[static_cast<std::size_t>(t)];
  if (id != XNN_INVALID_VALUE_ID) return id;
  const Tensor& tensor = graph_.tensors[static_cast<std::size_t>(t)];
  // A tensor with a buffer of ours comes in from outside this step, or is produced here for later steps
  // or the caller.
  std::uint32_t flags = 0;
  if (!external_[static_cast<std::size_t>(t)].empty()) {
    flags = producer_step_[static_cast<std::size_t>(t)] == defining_step_ ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT
                                                                          : XNN_VALUE_FLAG_EXTERNAL_INPUT;
  }
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

std::unique_ptr<Model> make_xnnpack_model(Graph graph, int threads, bool own_kernels) {
  return std::make_unique<XnnpackModel>(std::move(graph), threads, own_kernels);
}

}  // namespace monobody::nn
