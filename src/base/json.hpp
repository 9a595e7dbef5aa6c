// JSON text helpers for hand-written JSON output (the CLI's --json listings, TLS-RPT reports).
// Depends on nothing. Thread-safe: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace posthorn {

// `s` as a JSON string literal [RFC 8259 §7]. Invalid UTF-8 bytes become U+FFFD, so the output is
// always valid JSON even for odd local parts.
std::string json_string(std::string_view s);

}  // namespace posthorn
