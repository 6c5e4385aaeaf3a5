#include "sqlproxy/protocol/wire.h"

#include <gtest/gtest.h>

#include <string>

namespace sqlproxy::protocol {
namespace {

TEST(WireTest, FixedIntegersAreLittleEndian) {
  const std::string bytes("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a", 10);
  WireReader r(bytes);
  EXPECT_EQ(*r.u8(), 0x01);
  EXPECT_EQ(*r.u16(), 0x0302);
  EXPECT_EQ(*r.u24(), 0x060504u);
  EXPECT_EQ(*r.u24(), 0x090807u);
  EXPECT_EQ(r.u16().error(), Error::Truncated);  // 1 left: the cursor stays put
  EXPECT_EQ(r.remaining(), 1u);
  EXPECT_EQ(*r.u8(), 0x0a);
}

TEST(WireTest, LenencIntBoundariesRoundTrip) {
  for (std::uint64_t v : {0ull, 1ull, 250ull, 251ull, 0xFFFFull, 0x10000ull, 0xFFFFFFull,
                          0x1000000ull, 0xFFFFFFFFFFFFFFFFull}) {
    std::string out;
    put_lenenc_int(out, v);
    WireReader r(out);
    auto got = r.lenenc_int();
    ASSERT_TRUE(got) << v;
    ASSERT_TRUE(*got);
    EXPECT_EQ(**got, v);
    EXPECT_TRUE(r.empty());
    // Every proper prefix is truncated and leaves the cursor at the start.
    for (std::size_t n = 0; n < out.size(); ++n) {
      WireReader p(std::string_view(out).substr(0, n));
      auto t = p.lenenc_int();
      ASSERT_FALSE(t) << v << " at " << n;
      EXPECT_EQ(t.error(), Error::Truncated);
      EXPECT_EQ(p.remaining(), n);
    }
  }
}

TEST(WireTest, LenencPrefixSizes) {
  std::string out;
  put_lenenc_int(out, 250);
  put_lenenc_int(out, 251);
  put_lenenc_int(out, 0x10000);
  put_lenenc_int(out, 0x1000000);
  EXPECT_EQ(out.size(), 1u + 3u + 4u + 9u);
  EXPECT_EQ(static_cast<std::uint8_t>(out[1]), kLenenc2);
  EXPECT_EQ(static_cast<std::uint8_t>(out[4]), kLenenc3);
  EXPECT_EQ(static_cast<std::uint8_t>(out[8]), kLenenc8);
}

TEST(WireTest, LenencNullAndBadPrefix) {
  const std::string null_byte("\xfb", 1);
  WireReader r(null_byte);
  auto v = r.lenenc_str();
  ASSERT_TRUE(v);
  EXPECT_FALSE(*v);
  WireReader n(null_byte);
  EXPECT_EQ(n.lenenc_str_not_null().error(), Error::Malformed);
  const std::string ff("\xff", 1);
  WireReader f(ff);
  EXPECT_EQ(f.lenenc_int().error(), Error::Malformed);
}

TEST(WireTest, LenencStringRoundTripAndTruncation) {
  const std::string value(300, 'x');
  std::string out;
  put_lenenc_str(out, value);
  WireReader r(out);
  EXPECT_EQ(*r.lenenc_str_not_null(), value);
  for (std::size_t n = 0; n < out.size(); ++n) {
    WireReader p(std::string_view(out).substr(0, n));
    EXPECT_EQ(p.lenenc_str().error(), Error::Truncated) << n;
    EXPECT_EQ(p.remaining(), n);
  }
}

TEST(WireTest, NullTerminatedString) {
  std::string out;
  put_null_str(out, "abc");
  out += "rest";
  WireReader r(out);
  EXPECT_EQ(*r.null_str(), "abc");
  EXPECT_EQ(r.null_str().error(), Error::Truncated);
  EXPECT_EQ(r.rest(), "rest");
}

}  // namespace
}  // namespace sqlproxy::protocol
