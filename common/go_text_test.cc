#include "common/go_text.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace common {
namespace {

TEST(GoHtmlEscape, EscapesAsGoHtmlEscapeString) {
  // html.EscapeString writes numeric references for the quotes (&#39; and &#34;), which the
  // bodies of etcd's redirects carry; &amp; is escaped again, never taken as a reference.
  EXPECT_EQ(go_html_escape(R"(<a href="x" title='y'>&amp;</a>)"),
            "&lt;a href=&#34;x&#34; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
  EXPECT_EQ(go_html_escape("plain 10.0.0.1:3306"), "plain 10.0.0.1:3306");
  EXPECT_EQ(go_html_escape(""), "");
}

TEST(GoHtmlEscape, KeepsOtherBytes) {
  // UTF-8, invalid bytes and controls pass through unchanged, as in Go.
  const std::string bytes = "\xC3\xA9\xFF\x01\n\t";
  EXPECT_EQ(go_html_escape(bytes), bytes);
}

TEST(GoSplit, KeepsEmptyPiecesAsStringsSplit) {
  using Pieces = std::vector<std::string_view>;
  EXPECT_EQ(go_split("a,b,c", ','), (Pieces{"a", "b", "c"}));
  EXPECT_EQ(go_split("a,,b", ','), (Pieces{"a", "", "b"}));
  EXPECT_EQ(go_split(",a,", ','), (Pieces{"", "a", ""}));
  EXPECT_EQ(go_split("abc", ','), (Pieces{"abc"}));
  EXPECT_EQ(go_split("", ','), (Pieces{""}));
  EXPECT_EQ(go_split(",", ','), (Pieces{"", ""}));
  EXPECT_EQ(go_split("k=v", '='), (Pieces{"k", "v"}));
}

}  // namespace
}  // namespace common
