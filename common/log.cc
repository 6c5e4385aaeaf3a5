#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/system/errc.hpp>

namespace common {

Result<void> init_logging(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string{level});
  // from_str answers "off" for anything it does not know; only "off" itself may mean off.
  if (parsed == spdlog::level::off && level != "off") {
    return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  }
  auto logger = spdlog::stderr_color_mt("main");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%f %^%L%$ %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(std::move(logger));
  return {};
}

}  // namespace common
