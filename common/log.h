#pragma once
// Process-wide logging setup over spdlog. Call init_logging once from main() before any thread
// starts; afterwards use spdlog's free functions (spdlog::info, ...), which are thread-safe.

#include <string_view>

#include "common/result.h"

namespace common {

// Sets the default logger to stderr with the given level ("debug", "info", "warn", "error").
// Returns an error for an unknown level name and leaves the logger unchanged.
Result<void> init_logging(std::string_view level);

}  // namespace common
