#include "common/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/check.h"

namespace common::metrics {
namespace {

bool valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// Escaping per the text format 0.0.4: HELP escapes backslash and newline; label values also
// escape the double quote.
std::string escape(std::string_view text, bool quote) {
  std::string out;
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string label_text(const Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out += ',';
    out += fmt::format("{}=\"{}\"", name, escape(value, true));
  }
  return out;
}

// "name{labels} value" or "name value"; `extra` is appended inside the braces (for "le").
void write_sample(std::string& out, std::string_view name, std::string_view labels,
                  std::string_view extra, std::string_view value) {
  out += name;
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out += labels;
    if (!labels.empty() && !extra.empty()) out += ',';
    out += extra;
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest round-trip digits, then Go's 'g' rule for shortest output: exponent form when the
  // decimal exponent is below -4 or at least 6 (strconv.FormatFloat(v, 'g', -1, 64)).
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::scientific);
  const std::string_view sci(buffer, static_cast<std::size_t>(result.ptr - buffer));
  const auto e = sci.find('e');
  std::string_view mantissa = sci.substr(0, e);
  const int exponent = std::stoi(std::string(sci.substr(e + 1)));
  std::string sign;
  if (mantissa.starts_with('-')) {
    sign = "-";
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (const char c : mantissa) {
    if (c != '.') digits += c;
  }
  if (exponent < -4 || exponent >= 6) {
    std::string m = digits.substr(0, 1);
    if (digits.size() > 1) m += "." + digits.substr(1);
    return fmt::format("{}{}e{}{:02d}", sign, m, exponent < 0 ? '-' : '+', std::abs(exponent));
  }
  const int point = exponent + 1;  // digits before the decimal point
  const int count = static_cast<int>(digits.size());
  if (point <= 0) return sign + "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
  if (point >= count)
    return sign + digits + std::string(static_cast<std::size_t>(point - count), '0');
  return sign + digits.substr(0, static_cast<std::size_t>(point)) + "." +
         digits.substr(static_cast<std::size_t>(point));
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    CHECK(std::isfinite(bounds_[i]), "histogram bound {} is not finite", i);
    CHECK(i == 0 || bounds_[i - 1] < bounds_[i], "histogram bounds must increase (index {})", i);
  }
}

void Histogram::observe(double v) noexcept {
  // Bucket i counts bounds_[i-1] < v <= bounds_[i]; the first bound >= v is the bucket.
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  const auto index = static_cast<std::size_t>(it - bounds_.begin());
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::bucket_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  CHECK(start > 0 && factor > 1 && count > 0, "bad exponential buckets {} {} {}", start, factor,
        count);
  std::vector<double> out;
  double bound = start;
  for (int i = 0; i < count; ++i) {
    out.push_back(bound);
    bound *= factor;
  }
  return out;
}

Registry::Series& Registry::series(std::string_view name, std::string_view help, Type type,
                                   const Labels& labels) {
  CHECK(valid_name(name, true), "invalid metric name {:?}", std::string(name));
  for (const auto& [label, value] : labels) {
    CHECK(valid_name(label, false) && !label.starts_with("__") && label != "le",
          "invalid label name {:?} on {}", label, name);
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  }
  Family& family = it->second;
  CHECK(family.type == type, "metric {} registered with two types", name);
  CHECK(family.help == help, "metric {} registered with two help texts", name);
  Series& s = family.series[label_text(labels)];
  s.labels = labels;
  return s;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, Type::Counter, labels);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, Type::Gauge, labels);
  CHECK(!s.callback, "gauge {} is already a callback gauge", name);
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::vector<double> bounds, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, Type::Histogram, labels);
  if (!s.histogram) {
    s.histogram = std::make_unique<Histogram>(std::move(bounds));
  } else {
    CHECK(s.histogram->bounds() == bounds, "histogram {} registered with two bucket sets", name);
  }
  return *s.histogram;
}

void Registry::gauge_callback(std::string_view name, std::string_view help,
                              std::function<double()> read, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, Type::Gauge, labels);
  CHECK(!s.gauge, "gauge {} is already a plain gauge", name);
  s.callback = std::move(read);
}

void Registry::render_family(std::string& out, const std::string& name, const Family& family) {
  static constexpr std::string_view kTypeNames[] = {"counter", "gauge", "histogram"};
  out += fmt::format("# HELP {} {}\n", name, escape(family.help, false));
  out += fmt::format("# TYPE {} {}\n", name, kTypeNames[static_cast<int>(family.type)]);
  for (const auto& [labels, s] : family.series) {
    if (s.counter) {
      write_sample(out, name, labels, "", format_value(static_cast<double>(s.counter->value())));
    } else if (s.gauge) {
      write_sample(out, name, labels, "", format_value(s.gauge->value()));
    } else if (s.callback) {
      write_sample(out, name, labels, "", format_value(s.callback()));
    } else if (s.histogram) {
      const auto counts = s.histogram->bucket_counts();
      const auto& bounds = s.histogram->bounds();
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        const std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
        write_sample(out, name + "_bucket", labels, fmt::format("le=\"{}\"", le),
                     format_value(static_cast<double>(cumulative)));
      }
      write_sample(out, name + "_sum", labels, "", format_value(s.histogram->sum()));
      write_sample(out, name + "_count", labels, "", format_value(static_cast<double>(cumulative)));
    }
  }
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) render_family(out, name, family);
  return out;
}

}  // namespace common::metrics
