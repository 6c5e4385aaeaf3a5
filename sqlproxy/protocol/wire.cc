#include "sqlproxy/protocol/wire.h"

namespace sqlproxy::protocol {

std::string_view error_name(Error e) {
  switch (e) {
    case Error::Truncated:
      return "truncated";
    case Error::PacketTooLarge:
      return "packet too large";
    case Error::BadSequence:
      return "bad sequence id";
    case Error::Malformed:
      return "malformed";
    case Error::Unsupported:
      return "unsupported";
  }
  return "unknown";
}

Result<std::uint64_t> WireReader::fixed(std::size_t width) {
  if (remaining() < width) return Error::Truncated;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) {
    v |= std::uint64_t{static_cast<std::uint8_t>(data_[pos_ + i])} << (8 * i);
  }
  pos_ += width;
  return v;
}

Result<std::uint8_t> WireReader::u8() {
  auto v = fixed(1);
  if (!v) return v.error();
  return static_cast<std::uint8_t>(*v);
}

Result<std::uint16_t> WireReader::u16() {
  auto v = fixed(2);
  if (!v) return v.error();
  return static_cast<std::uint16_t>(*v);
}

Result<std::uint32_t> WireReader::u24() {
  auto v = fixed(3);
  if (!v) return v.error();
  return static_cast<std::uint32_t>(*v);
}

Result<std::uint32_t> WireReader::u32() {
  auto v = fixed(4);
  if (!v) return v.error();
  return static_cast<std::uint32_t>(*v);
}

Result<std::uint64_t> WireReader::u64() { return fixed(8); }

Result<std::optional<std::uint64_t>> WireReader::lenenc_int() {
  const std::size_t start = pos_;
  auto first = u8();
  if (!first) return first.error();
  Result<std::uint64_t> v = std::uint64_t{*first};
  switch (*first) {
    case kLenencNull:
      return std::optional<std::uint64_t>{};
    case kLenenc2:
      v = fixed(2);
      break;
    case kLenenc3:
      v = fixed(3);
      break;
    case kLenenc8:
      v = fixed(8);
      break;
    case 0xFF:
      pos_ = start;
      return Error::Malformed;
    default:
      break;
  }
  if (!v) {
    pos_ = start;
    return v.error();
  }
  return std::optional<std::uint64_t>{*v};
}

Result<std::optional<std::string_view>> WireReader::lenenc_str() {
  const std::size_t start = pos_;
  auto len = lenenc_int();
  if (!len) return len.error();
  if (!*len) return std::optional<std::string_view>{};
  if (**len > remaining()) {
    pos_ = start;
    return Error::Truncated;
  }
  auto s = bytes(static_cast<std::size_t>(**len));
  return std::optional<std::string_view>{*s};
}

Result<std::string_view> WireReader::lenenc_str_not_null() {
  const std::size_t start = pos_;
  auto s = lenenc_str();
  if (!s) return s.error();
  if (!*s) {
    pos_ = start;
    return Error::Malformed;
  }
  return **s;
}

Result<std::string_view> WireReader::bytes(std::size_t n) {
  if (remaining() < n) return Error::Truncated;
  auto s = data_.substr(pos_, n);
  pos_ += n;
  return s;
}

Result<std::string_view> WireReader::null_str() {
  const auto nul = data_.find('\0', pos_);
  if (nul == std::string_view::npos) return Error::Truncated;
  auto s = data_.substr(pos_, nul - pos_);
  pos_ = nul + 1;
  return s;
}

std::string_view WireReader::rest() {
  auto s = data_.substr(pos_);
  pos_ = data_.size();
  return s;
}

std::optional<std::uint8_t> WireReader::peek() const {
  if (empty()) return std::nullopt;
  return static_cast<std::uint8_t>(data_[pos_]);
}

namespace {
void put_fixed(std::string& out, std::uint64_t v, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
}  // namespace

void put_u8(std::string& out, std::uint8_t v) { put_fixed(out, v, 1); }
void put_u16(std::string& out, std::uint16_t v) { put_fixed(out, v, 2); }
void put_u24(std::string& out, std::uint32_t v) { put_fixed(out, v, 3); }
void put_u32(std::string& out, std::uint32_t v) { put_fixed(out, v, 4); }
void put_u64(std::string& out, std::uint64_t v) { put_fixed(out, v, 8); }

void put_lenenc_int(std::string& out, std::uint64_t v) {
  if (v < kLenencNull) {
    put_fixed(out, v, 1);
  } else if (v <= 0xFFFF) {
    put_u8(out, kLenenc2);
    put_fixed(out, v, 2);
  } else if (v <= 0xFFFFFF) {
    put_u8(out, kLenenc3);
    put_fixed(out, v, 3);
  } else {
    put_u8(out, kLenenc8);
    put_fixed(out, v, 8);
  }
}

void put_lenenc_str(std::string& out, std::string_view s) {
  put_lenenc_int(out, s.size());
  out.append(s);
}

void put_lenenc_null(std::string& out) { put_u8(out, kLenencNull); }

void put_null_str(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

}  // namespace sqlproxy::protocol
