#pragma once
// Result<T, E>: the return type of every operation that can fail in an expected way (bad input,
// peer down, timeout, full queue). Broken invariants use CHECK instead (check.h).

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace common {

template <class T, class E = boost::system::error_code>
using Result = boost::system::result<T, E>;

}  // namespace common
