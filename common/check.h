#pragma once
// CHECK(cond, fmt, args...): an always-on invariant check. On failure it prints the condition, the
// location and the formatted context to stderr and aborts. It is for broken invariants only;
// expected failures return Result (result.h). DCHECK is the same check in debug builds only, for
// checks too costly to run in production.

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace common::detail {

[[noreturn]] inline void check_failed(const char* condition, const char* file, int line,
                                      const std::string& context) {
  std::fprintf(stderr, "CHECK failed: %s at %s:%d: %s\n", condition, file, line, context.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace common::detail

#define CHECK(cond, ...)                                                                     \
  do {                                                                                       \
    if (!(cond)) [[unlikely]] {                                                              \
      ::common::detail::check_failed(#cond, __FILE__, __LINE__, ::fmt::format(__VA_ARGS__)); \
    }                                                                                        \
  } while (false)

#ifdef NDEBUG
#define DCHECK(cond, ...) \
  do {                    \
  } while (false)
#else
#define DCHECK(cond, ...) CHECK(cond, __VA_ARGS__)
#endif
