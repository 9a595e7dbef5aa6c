#include "base/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <atomic>

namespace posthorn::log {

bool valid_level(std::string_view level) {
  return level == "trace" || level == "debug" || level == "info" || level == "warn" || level == "error" ||
         level == "off";
}

bool init(std::string_view level) {
  if (!valid_level(level)) return false;
  auto logger = spdlog::stderr_color_mt("posthorn");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  spdlog::flush_on(spdlog::level::info);
  return true;
}

std::string next_connection_id() {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("c{:x}", ++counter);
}

}  // namespace posthorn::log
