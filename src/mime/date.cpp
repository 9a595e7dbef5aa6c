#include "mime/date.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "base/ascii.hpp"

namespace posthorn::mime {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::optional<int> digits(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return std::nullopt;
  int n = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// Splits on whitespace and commas after removing (nested) comments.
std::vector<std::string_view> tokens(std::string_view value, std::string& scratch) {
  scratch.clear();
  int depth = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\\' && depth > 0) {
      ++i;
      continue;
    }
    if (c == '(') ++depth;
    else if (c == ')' && depth > 0) --depth;
    else if (depth == 0) scratch.push_back(c);
  }
  std::vector<std::string_view> out;
  std::string_view s = scratch;
  size_t i = 0;
  auto sep = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ','; };
  while (i < s.size()) {
    while (i < s.size() && sep(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !sep(s[j])) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

std::optional<unsigned> month_number(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                               "jul", "aug", "sep", "oct", "nov", "dec"};
  if (s.size() < 3) return std::nullopt;
  for (unsigned i = 0; i < kMonths.size(); ++i) {
    if (ascii::iequals(s.substr(0, 3), kMonths[i])) return i + 1;
  }
  return std::nullopt;
}

// Seconds east of UTC for "+hhmm"/"-hhmm" or an obsolete zone name [RFC 5322 §4.3].
std::optional<int> zone_offset(std::string_view z) {
  if (z.size() == 5 && (z[0] == '+' || z[0] == '-')) {
    auto hhmm = digits(z.substr(1), 4, 4);
    if (!hhmm || *hhmm % 100 > 59) return std::nullopt;
    const int secs = (*hhmm / 100) * 3600 + (*hhmm % 100) * 60;
    return z[0] == '-' ? -secs : secs;
  }
  static constexpr std::array<std::pair<std::string_view, int>, 10> kNamed = {{
      {"UT", 0}, {"GMT", 0}, {"EST", -5}, {"EDT", -4}, {"CST", -6},
      {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7},
  }};
  for (const auto& [name, hours] : kNamed) {
    if (ascii::iequals(z, name)) return hours * 3600;
  }
  if (z.size() == 1 && ascii::to_upper(z[0]) >= 'A' && ascii::to_upper(z[0]) <= 'Z') return 0;  // military: treat as UTC
  return std::nullopt;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<DateTime> parse_date_time_zoned(std::string_view value) {
  std::string scratch;
  auto tok = tokens(value, scratch);
  size_t i = 0;
  if (i < tok.size() && !tok[i].empty() && !is_digit(tok[i][0])) ++i;  // day-of-week
  if (tok.size() < i + 4) return std::nullopt;
  auto day = digits(tok[i], 1, 2);
  auto month = month_number(tok[i + 1]);
  if (!day || !month) {
    // "Feb 1 1994 ..." appears now and then (asctime-like); accept month before day
    month = month_number(tok[i]);
    day = digits(tok[i + 1], 1, 2);
    if (!day || !month) return std::nullopt;
  }
  auto year = digits(tok[i + 2], 2, 4);
  if (!year) return std::nullopt;
  if (tok[i + 2].size() == 2) *year += *year < 50 ? 2000 : 1900;  // obs-year [RFC 5322 §4.3]
  else if (tok[i + 2].size() == 3) *year += 1900;
  const auto time = ascii::split(tok[i + 3], ':');
  if (time.size() < 2 || time.size() > 3) return std::nullopt;
  auto h = digits(time[0], 1, 2);
  auto m = digits(time[1], 1, 2);
  std::optional<int> s = 0;
  if (time.size() == 3) s = digits(time[2], 1, 2);
  if (!h || !m || !s || *h > 23 || *m > 59 || *s > 60 || *day < 1 || *day > 31) return std::nullopt;
  int zone = 0;
  if (tok.size() > i + 4) {
    if (auto z = zone_offset(tok[i + 4])) zone = *z;
  }
  DateTime dt;
  dt.zone_offset = zone;
  dt.utc = days_from_civil(*year, *month, static_cast<unsigned>(*day)) * 86400 + *h * 3600 + *m * 60 + *s - zone;
  return dt;
}

std::optional<int64_t> parse_date_time(std::string_view value) {
  auto dt = parse_date_time_zoned(value);
  if (!dt) return std::nullopt;
  return dt->utc;
}

std::string rfc5322_date(int64_t unix_seconds) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace posthorn::mime
