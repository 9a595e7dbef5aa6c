// IMAP date and date-time text [RFC 9051 §9 date, date-time]: "27-Nov-2026", "27-Nov-2026 05:15:14
// +0100" (a quoted date-time may start with a space for a one-digit day). Used for APPEND's internal
// date, INTERNALDATE and SAVEDATE output, and SEARCH dates. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace posthorn::proto::imap {

// "dd-Mon-yyyy hh:mm:ss +zzzz" (day " d", "d" or "dd") to Unix seconds (UTC). nullopt when invalid
// (bad month, day past the month's end, hour > 23, zone minutes > 59, year < 1900).
std::optional<int64_t> parse_date_time(std::string_view text);
// "d-Mon-yyyy" or "dd-Mon-yyyy" to the Unix seconds of that day's 00:00 UTC.
std::optional<int64_t> parse_date(std::string_view text);
// Unix seconds as "dd-Mon-yyyy hh:mm:ss +0000" (quoted by the caller).
std::string format_date_time(int64_t unix_seconds);

}  // namespace posthorn::proto::imap
