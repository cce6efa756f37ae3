// Errors in monobody are exceptions of one type carrying a one-line, user-facing message.
// The CLI prints what() on one line and exits non-zero; library users catch monobody::Error.
#pragma once

#include <stdexcept>
#include <string>

namespace monobody {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace monobody
