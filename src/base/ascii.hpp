// ASCII helpers for protocol text: case-insensitive compare, case mapping, trimming, splitting.
// Pure functions; no locale. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace posthorn::ascii {

constexpr char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
constexpr char to_upper(char c) { return (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c; }
std::string lower(std::string_view s);
std::string upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
std::string_view trim(std::string_view s);
// Splits on `sep`; empty fields are kept.
std::vector<std::string_view> split(std::string_view s, char sep);
// True when every byte is printable ASCII (0x20..0x7e).
bool is_printable(std::string_view s);

}  // namespace posthorn::ascii
