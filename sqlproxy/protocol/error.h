#pragma once
// The errors of the pure MySQL protocol layer. Every parser here returns Result<T> and never
// throws: the bytes come from untrusted clients and servers.

#include <string_view>

#include "common/result.h"

namespace sqlproxy::protocol {

enum class Error {
  Truncated,       // the payload ends before a field the format requires
  PacketTooLarge,  // a logical packet exceeds the reader's bound
  BadSequence,     // a continuation frame does not carry the next sequence id
  Malformed,       // a byte says something the format does not allow (wrong header, bad prefix)
  Unsupported,     // valid but outside what we handle (pre-4.1 handshake response)
};

std::string_view error_name(Error e);

template <class T>
using Result = common::Result<T, Error>;

}  // namespace sqlproxy::protocol
