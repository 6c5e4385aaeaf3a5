#pragma once
// Primitive MySQL wire types: fixed-width little-endian integers, length-encoded integers and
// strings, NUL-terminated strings. WireReader is a cursor over a borrowed payload; the put_*
// functions append to an owned std::string.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sqlproxy/protocol/error.h"

namespace sqlproxy::protocol {

// Prefix bytes of length-encoded integers: 0xFB stands for NULL, 0xFC/0xFD/0xFE announce 2, 3 and
// 8 bytes of value. 0xFF is never a valid first byte (it marks ERR packets).
inline constexpr std::uint8_t kLenencNull = 0xFB;
inline constexpr std::uint8_t kLenenc2 = 0xFC;
inline constexpr std::uint8_t kLenenc3 = 0xFD;
inline constexpr std::uint8_t kLenenc8 = 0xFE;

// WireReader: reads fields front to back from a payload it does not own (the caller keeps the
// bytes alive). Single-threaded value type. Invariant: pos_ <= data_.size(); a failed read leaves
// the cursor where it was.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  Result<std::uint8_t> u8();
  Result<std::uint16_t> u16();
  Result<std::uint32_t> u24();
  Result<std::uint32_t> u32();
  Result<std::uint64_t> u64();
  // nullopt for the 0xFB NULL marker.
  Result<std::optional<std::uint64_t>> lenenc_int();
  // nullopt for the 0xFB NULL marker.
  Result<std::optional<std::string_view>> lenenc_str();
  // A length-encoded string where NULL is not allowed.
  Result<std::string_view> lenenc_str_not_null();
  Result<std::string_view> bytes(std::size_t n);
  // Up to (not including) the next NUL, which is consumed; Truncated if there is none.
  Result<std::string_view> null_str();
  // Everything left (string<EOF>).
  std::string_view rest();
  std::optional<std::uint8_t> peek() const;

  std::size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return pos_ == data_.size(); }

 private:
  Result<std::uint64_t> fixed(std::size_t width);

  std::string_view data_;
  std::size_t pos_ = 0;
};

void put_u8(std::string& out, std::uint8_t v);
void put_u16(std::string& out, std::uint16_t v);
void put_u24(std::string& out, std::uint32_t v);
void put_u32(std::string& out, std::uint32_t v);
void put_u64(std::string& out, std::uint64_t v);
// Shortest encoding of v.
void put_lenenc_int(std::string& out, std::uint64_t v);
void put_lenenc_str(std::string& out, std::string_view s);
void put_lenenc_null(std::string& out);
void put_null_str(std::string& out, std::string_view s);

}  // namespace sqlproxy::protocol
