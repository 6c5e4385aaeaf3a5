#include "sqlproxy/server/galera_controller.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "common/clock.h"

namespace sqlproxy::server {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// A port on 127.0.0.1 where nothing listens (the kernel picked it free, then it was closed).
std::uint16_t closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// Runs `io` until `pred` holds or 20 s pass.
template <class Pred>
bool run_until(asio::io_context& io, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    io.restart();
  }
  return pred();
}

GaleraControllerOptions unreachable_backends() {
  GaleraControllerOptions options;
  options.backends = {{"127.0.0.1", closed_port(), 1}, {"127.0.0.1", closed_port(), 1}};
  options.monitor.user = "monitor";
  options.monitor.password = "secret-pw";
  options.monitor.probe_interval = 10ms;
  return options;
}

TEST(GaleraController, NoWriterBeforeAProbeAndTheReasonNamesIt) {
  common::RealClock clock;
  GaleraController controller(unreachable_backends(), clock);
  const auto pick = controller.pick_writer();
  ASSERT_FALSE(pick);
  EXPECT_EQ(pick.error(), "no probe has completed yet");
  EXPECT_EQ(controller.status()->backend_source, "static");
}

TEST(GaleraController, UnreachableBackendsGiveNoWriterAndEachCauseButNoSecret) {
  common::RealClock clock;
  const GaleraControllerOptions options = unreachable_backends();
  GaleraController controller(options, clock);
  asio::io_context io;
  session::SessionRegistry registry;
  controller.start(io, registry);
  ASSERT_TRUE(run_until(io, [&] {
    const auto s = controller.status();
    return s->backends.size() == 2 && s->backends[0].probes_total >= 3 &&
           s->backends[1].probes_total >= 3 &&
           s->backends[0].state == admin::BackendState::Offline &&
           s->backends[1].state == admin::BackendState::Offline;
  }));
  const auto writer = controller.pick_writer();
  ASSERT_FALSE(writer);
  EXPECT_TRUE(writer.error().starts_with("no writable Galera node (")) << writer.error();
  for (const auto& b : options.backends) {
    EXPECT_NE(writer.error().find(b.name() + ": offline"), std::string::npos) << writer.error();
  }
  EXPECT_EQ(writer.error().find("secret-pw"), std::string::npos);
  const auto reader = controller.pick_reader();
  ASSERT_FALSE(reader);
  EXPECT_TRUE(reader.error().starts_with("no readable Galera node (")) << reader.error();
  const auto status = controller.status();
  EXPECT_TRUE(status->writer.empty());
  EXPECT_EQ(status->writer_changes, 0u);
  // Backends that never served are fenced in the registry: a session that raced the
  // decision is refused rather than admitted.
  struct Nothing : session::SessionControl {
    void fence() override {}
    void drain(std::chrono::steady_clock::time_point) override {}
  };
  const auto session = std::make_shared<Nothing>();
  EXPECT_EQ(registry.register_session(options.backends[0].name(), session).admission,
            session::SessionRegistry::Admission::Refuse);
  controller.stop();
}

TEST(GaleraController, ReaderKeysAreDistinctFromWriterKeys) {
  EXPECT_EQ(GaleraController::reader_key("127.0.0.1:3306"), "127.0.0.1:3306#ro");
}

}  // namespace
}  // namespace sqlproxy::server
