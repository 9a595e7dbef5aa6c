// Logging facade over spdlog: one stderr logger, lines tagged with a connection id where there is one.
// init() once at start-up; after that every function is thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace posthorn::log {

// level: trace, debug, info, warn, error, off. Returns false on an unknown level name.
bool init(std::string_view level);
bool valid_level(std::string_view level);
// A short id for a new connection, unique in this process ("c1f3a"...).
std::string next_connection_id();

}  // namespace posthorn::log
