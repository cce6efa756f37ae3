// Our own vectorised kernels for the convolutions XNNPACK runs slowly: 3x3 stride-1 depthwise
// convolutions over large maps or few channels, and 3x3 convolutions down to one channel. The BlazePose
// landmark networks end in such a segmentation head (256x256x8 depthwise convolutions, then a 3x3
// convolution to one channel): XNNPACK vectorises its depthwise kernels across channels in blocks of 16
// and its convolutions across output channels, so there it used half a vector or one lane of it, and the
// head took about a third of the lite model's time. Here one 8-float AVX vector holds 8 channels of a
// pixel, and the one-channel convolution sums 8-wide, then reduces eight pixels at once.
//
// These run between XNNPACK runtimes (the backend splits the graph around them); they exist only where
// the CPU has AVX2 and FMA, and the reference backend is their oracle in tests.
#pragma once

#include <pthreadpool.h>

#include <cstddef>

#include "graph.hpp"

namespace monobody::nn::detail {

enum class NarrowKernel {
  None,
  Depthwise3x3,   // DEPTHWISE_CONV_2D 3x3, stride 1, "same" padding, multiplier 1, channels a multiple of 8
  Conv3x3ToOne,   // CONV_2D 3x3, stride 1, "same" padding, one output channel, input channels a multiple of 8
};

// Which of our kernels runs `op` (None: XNNPACK does). Looks only at shapes and options; None on CPUs
// without AVX2 and FMA.
NarrowKernel narrow_kernel_for(const Graph& graph, const Operation& op);

// Runs `op` (for which narrow_kernel_for gave `kernel`): reads `input` [1,H,W,C], writes `output`, splitting
// output rows over `pool` (null: on the calling thread). Weights and bias come from the graph's constants.
void run_narrow_kernel(NarrowKernel kernel, const Graph& graph, const Operation& op, const float* input,
                       float* output, pthreadpool_t pool);

}  // namespace monobody::nn::detail
