// RFC 5322 date-time parsing [RFC 5322 §3.3, §4.3]: the Date: header value to Unix seconds (UTC),
// as IMAP SENTBEFORE/SENTON/SENTSINCE and SORT DATE need [RFC 3501 §6.4.4, RFC 5256 §3].
// Lenient as mail readers are: the day name is optional, comments are skipped, seconds optional,
// obsolete two- and three-digit years and named zones (UT, GMT, EST ... PDT, military letters)
// are read; a missing zone is taken as UTC. Depends only on src/base. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace posthorn::mime {

// Unix seconds of the instant, or nullopt when `value` is not a recognisable date-time.
std::optional<int64_t> parse_date_time(std::string_view value);

// The zone offset as well: seconds east of UTC written in the value (0 when none or named).
struct DateTime {
  int64_t utc = 0;          // Unix seconds
  int32_t zone_offset = 0;  // seconds east of UTC
};
std::optional<DateTime> parse_date_time_zoned(std::string_view value);

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);
// 1..12 for an English month name or its first three letters, any case ("Feb", "february").
std::optional<unsigned> month_number(std::string_view name);
// Seconds east of UTC for "+hhmm" / "-hhmm" or an obsolete zone name (UT, GMT, EST ... PDT,
// a military letter as UTC) [RFC 5322 §3.3, §4.3].
std::optional<int> zone_offset(std::string_view zone);

// The other direction, the one formatter for every date Posthorn writes (Date:, Received:, DSN
// Arrival-Date, report Date:): "Thu, 1 Jan 1970 00:00:00 +0000" [RFC 5322 §3.3], always UTC.
std::string rfc5322_date(int64_t unix_seconds);

}  // namespace posthorn::mime
