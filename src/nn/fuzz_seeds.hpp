// Small valid models, together using every operator and weight format the reader accepts: the starting
// points of the model-reader fuzzer and of its replay test.
#pragma once

#include <cstdint>
#include <vector>

namespace monobody::nn {

std::vector<std::vector<std::uint8_t>> fuzz_seed_models();

}  // namespace monobody::nn
