#include "proto/imap/datetime.hpp"

#include <array>
#include <cstdio>

#include "base/ascii.hpp"
#include "mime/date.hpp"

namespace posthorn::proto::imap {

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

bool digits(std::string_view s, size_t n, int64_t& out) {
  if (s.size() != n) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

// "d-Mon-yyyy" / "dd-Mon-yyyy" into days since the epoch.
std::optional<int64_t> parse_day(std::string_view text) {
  const size_t dash1 = text.find('-');
  if (dash1 == std::string_view::npos || dash1 == 0 || dash1 > 2) return std::nullopt;
  int64_t day = 0;
  if (!digits(text.substr(0, dash1), dash1, day)) return std::nullopt;
  if (text.size() != dash1 + 1 + 3 + 1 + 4 || text[dash1 + 4] != '-') return std::nullopt;
  const std::string_view mon = text.substr(dash1 + 1, 3);
  unsigned month = 0;
  for (unsigned k = 0; k < 12; ++k) {
    if (ascii::iequals(mon, kMonths[k])) month = k + 1;
  }
  int64_t year = 0;
  if (month == 0 || !digits(text.substr(dash1 + 5), 4, year) || year < 1900) return std::nullopt;
  if (day < 1 || day > days_in_month(year, month)) return std::nullopt;
  return mime::days_from_civil(year, month, static_cast<unsigned>(day));
}

}  // namespace

std::optional<int64_t> parse_date(std::string_view text) {
  auto days = parse_day(text);
  if (!days) return std::nullopt;
  return *days * 86400;
}

std::optional<int64_t> parse_date_time(std::string_view text) {
  if (!text.empty() && text[0] == ' ') text.remove_prefix(1);
  // date SP time SP zone: "dd-Mon-yyyy hh:mm:ss +zzzz"
  const size_t sp1 = text.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  auto days = parse_day(text.substr(0, sp1));
  if (!days) return std::nullopt;
  const std::string_view rest = text.substr(sp1 + 1);
  if (rest.size() != 14 || rest[2] != ':' || rest[5] != ':' || rest[8] != ' ') return std::nullopt;
  int64_t hh = 0, mm = 0, ss = 0, zh = 0, zm = 0;
  if (!digits(rest.substr(0, 2), 2, hh) || !digits(rest.substr(3, 2), 2, mm) ||
      !digits(rest.substr(6, 2), 2, ss) || hh > 23 || mm > 59 || ss > 60) {
    return std::nullopt;
  }
  const char sign = rest[9];
  if ((sign != '+' && sign != '-') || !digits(rest.substr(10, 2), 2, zh) || !digits(rest.substr(12, 2), 2, zm) ||
      zm > 59) {
    return std::nullopt;
  }
  const int64_t offset = (zh * 60 + zm) * 60 * (sign == '+' ? 1 : -1);
  return *days * 86400 + hh * 3600 + mm * 60 + ss - offset;
}

std::string format_date_time(int64_t t) {
  int64_t days = t / 86400;
  int64_t secs = t % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02u-%s-%04lld %02lld:%02lld:%02lld +0000", d, kMonths[m - 1].data(),
                static_cast<long long>(y), static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return buf;
}

}  // namespace posthorn::proto::imap
