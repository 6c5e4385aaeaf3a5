#pragma once
// Prometheus metrics rendered in the text exposition format 0.0.4 (what GET /metrics serves).
//
// Counter, Gauge and Histogram are owned by a Registry and live as long as it does; callers keep
// the references that the Registry hands out. Updates (inc, set, observe) are lock-free relaxed
// atomics and may come from any thread. Registration and render() take the Registry's mutex: they
// belong to start-up and to scrapes, never to a request's hot path.
//
// Output order is stable: families sorted by name, series within a family sorted by their label
// text, as the Go client (and so etcd) orders them. Numbers are formatted like Go's
// strconv.FormatFloat(v, 'g', -1, 64) ("20480", "0.005", "1e+06", "+Inf").

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace common::metrics {

// Constant labels of one series, rendered in the order given.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing integer count.
class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
  void inc() noexcept { add(1); }
  void dec() noexcept { add(-1); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets. Invariant: bounds are strictly increasing and finite;
// the +Inf bucket is implicit. A render concurrent with observe() may see a sum that lags the
// counts by the observations in flight; the counts themselves are always cumulative and
// consistent with _count, which is derived from them.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // CHECKs the invariant
  void observe(double v) noexcept;
  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (non-cumulative) counts; the last element is the +Inf bucket.
  std::vector<std::uint64_t> bucket_counts() const;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1 entries
  std::atomic<double> sum_{0};
};

// Bucket bounds start, start*factor, ... (count of them), like the Go client's
// ExponentialBuckets, which etcd uses for its latency histograms.
std::vector<double> exponential_buckets(double start, double factor, int count);

// Formats a number as the Go client does in the text format.
std::string format_value(double v);

// The set of metrics one process exposes. Not copyable; owns every metric it hands out.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each returns the series with this name and labels, creating it on first use; the same
  // name and labels give the same object. CHECKs: a valid metric name and label names, and that
  // a name keeps one type and one help text (and, for histograms, one set of bounds).
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                       const Labels& labels = {});
  // A gauge whose value is computed by `read` at render time (e.g. a store size). `read` must be
  // thread-safe and must not call back into this Registry.
  void gauge_callback(std::string_view name, std::string_view help, std::function<double()> read,
                      const Labels& labels = {});

  // The whole exposition, "# HELP"/"# TYPE" then samples per family, '\n' after every line.
  std::string render() const;

 private:
  enum class Type { Counter, Gauge, Histogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> callback;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, Series> series;  // key: rendered label text, for a stable order
  };
  Series& series(std::string_view name, std::string_view help, Type type, const Labels& labels);
  static void render_family(std::string& out, const std::string& name, const Family& family);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace common::metrics
