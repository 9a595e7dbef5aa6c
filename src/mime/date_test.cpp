// Tests of the RFC 5322 Date: parser: the standard form, obsolete forms, comments, zones, garbage.
#include "mime/date.hpp"

#include <gtest/gtest.h>

namespace posthorn::mime {
namespace {

TEST(DateTime, StandardAndObsoleteForms) {
  // 1994-02-01 is day 8797; 21:52:25 -0800 = 05:52:25 UTC the next day
  EXPECT_EQ(parse_date_time("Tue, 1 Feb 1994 21:52:25 -0800"), 8798 * 86400 + 5 * 3600 + 52 * 60 + 25);
  EXPECT_EQ(parse_date_time("1 Feb 1994 21:52:25 -0800"), 8798 * 86400 + 5 * 3600 + 52 * 60 + 25);
  EXPECT_EQ(parse_date_time("Tue, 01 Feb 1994 21:52 +0000"), 8797 * 86400 + 21 * 3600 + 52 * 60);
  EXPECT_EQ(parse_date_time("Tue, 1 Feb 94 21:52:25 PST"), 8798 * 86400 + 5 * 3600 + 52 * 60 + 25);
  EXPECT_EQ(parse_date_time("Tue,1 Feb 1994 21:52:25 GMT (Pacific (nested) comment)"), 8797 * 86400 + 78745);
  EXPECT_EQ(parse_date_time("1 Jan 70 00:00:00"), 0);             // 2-digit year >= 50: 19xx
  EXPECT_EQ(parse_date_time("1 Jan 01 00:00:00 UT"), 978307200);  // < 50: 20xx
  EXPECT_EQ(parse_date_time("1 Jan 1970 00:00:00 +0100"), -3600);
  EXPECT_EQ(parse_date_time("1 Jan 101 00:00:00 +0000"), 978307200);  // 3-digit year: 2001
  auto zoned = parse_date_time_zoned("Mon, 2 Jan 2006 15:04:05 -0700");
  ASSERT_TRUE(zoned);
  EXPECT_EQ(zoned->zone_offset, -7 * 3600);
  EXPECT_EQ(zoned->utc, 1136239445);
}

TEST(DateTime, Garbage) {
  for (const char* bad : {"", "yesterday", "Tue, 1 Foo 1994 21:52:25", "1 Feb 1994", "1 Feb 1994 25:00:00",
                          "32 Feb 1994 10:00:00", "1 Feb 1 10:00:00", "1 Feb 1994 10", "((( 1 Feb"}) {
    EXPECT_FALSE(parse_date_time(bad)) << bad;
  }
}

// RFC 5322 §3.3 date-time, UTC; what it writes reads back to the same instant.
TEST(DateTime, Rfc5322DateFormatsAndRoundTrips) {
  EXPECT_EQ(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(1748959509), "Tue, 3 Jun 2025 14:05:09 +0000");
  EXPECT_EQ(rfc5322_date(1'795'756'511), "Fri, 27 Nov 2026 05:15:11 +0000");
  for (int64_t t : {int64_t{0}, int64_t{951782400}, int64_t{1'795'756'511}}) {
    EXPECT_EQ(parse_date_time(rfc5322_date(t)), t) << t;
  }
}

}  // namespace
}  // namespace posthorn::mime
