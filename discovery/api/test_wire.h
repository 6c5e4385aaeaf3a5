#pragma once
// Test helper: the bytes Beast's serializer writes for a message, and the CORS header block
// every etcd 3.4 answer starts with. Test-only.

#include <boost/beast/http/write.hpp>
#include <sstream>
#include <string>

namespace discovery::api::testing {

template <class Message>
std::string wire(const Message& message) {
  std::ostringstream os;
  os << message;
  return os.str();
}

inline constexpr const char* kCors =
    "Access-Control-Allow-Headers: accept, content-type, authorization\r\n"
    "Access-Control-Allow-Methods: POST, GET, OPTIONS, PUT, DELETE\r\n"
    "Access-Control-Allow-Origin: *\r\n";

}  // namespace discovery::api::testing
