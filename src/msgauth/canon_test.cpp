// Tests of DKIM canonicalisation (canon.hpp): RFC 6376 §3.4.6's example, empty bodies, trailing
// WSP and empty lines, folded headers, bare LF, the l= limit and chunked (streaming) input.
#include "msgauth/canon.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "mime/header.hpp"

namespace posthorn::msgauth {
namespace {

// RFC 6376 §3.4.6.
constexpr std::string_view kExample =
    "A: X\r\n"
    "B : Y\t\r\n"
    "\tZ  \r\n"
    "\r\n"
    " C \r\n"
    "D \t E\r\n"
    "\r\n"
    "\r\n";

TEST(Canon, Rfc6376ExampleRelaxed) {
  auto fields = split_raw_fields(kExample);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].name, "A");
  EXPECT_EQ(fields[1].name, "B");
  EXPECT_EQ(fields[1].raw, "B : Y\t\r\n\tZ  \r\n");
  EXPECT_EQ(canon_header(fields[0].raw, Canon::kRelaxed), "a:X\r\n");
  EXPECT_EQ(canon_header(fields[1].raw, Canon::kRelaxed), "b:Y Z\r\n");
  auto body = kExample.substr(mime::split_header(kExample).body_start);
  EXPECT_EQ(body, " C \r\nD \t E\r\n\r\n\r\n");
  EXPECT_EQ(canon_body(body, Canon::kRelaxed), " C\r\nD E\r\n");
}

TEST(Canon, Rfc6376ExampleSimple) {
  auto fields = split_raw_fields(kExample);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(canon_header(fields[0].raw, Canon::kSimple), "A: X\r\n");
  EXPECT_EQ(canon_header(fields[1].raw, Canon::kSimple), "B : Y\t\r\n\tZ  \r\n");
  auto body = kExample.substr(mime::split_header(kExample).body_start);
  EXPECT_EQ(canon_body(body, Canon::kSimple), " C \r\nD \t E\r\n");
}

TEST(Canon, EmptyBody) {
  EXPECT_EQ(canon_body("", Canon::kSimple), "\r\n");
  EXPECT_EQ(canon_body("", Canon::kRelaxed), "");
  EXPECT_EQ(canon_body("\r\n\r\n", Canon::kSimple), "\r\n");
  EXPECT_EQ(canon_body("\r\n\r\n", Canon::kRelaxed), "");
  // Lines of only WSP are empty lines in relaxed, content in simple.
  EXPECT_EQ(canon_body(" \t\r\n  \r\n", Canon::kRelaxed), "");
  EXPECT_EQ(canon_body(" \t\r\n\r\n", Canon::kSimple), " \t\r\n");
}

TEST(Canon, MissingFinalLineEnd) {
  EXPECT_EQ(canon_body("abc", Canon::kSimple), "abc\r\n");
  EXPECT_EQ(canon_body("abc", Canon::kRelaxed), "abc\r\n");
  EXPECT_EQ(canon_body("abc  \t", Canon::kRelaxed), "abc\r\n");
  EXPECT_EQ(canon_body("abc  \t", Canon::kSimple), "abc  \t\r\n");
}

TEST(Canon, InnerEmptyLinesKept) {
  EXPECT_EQ(canon_body("a\r\n\r\n\r\nb\r\n\r\n", Canon::kSimple), "a\r\n\r\n\r\nb\r\n");
  EXPECT_EQ(canon_body("a\r\n \r\n\r\nb\r\n\r\n", Canon::kRelaxed), "a\r\n\r\n\r\nb\r\n");
}

TEST(Canon, RelaxedWsp) {
  EXPECT_EQ(canon_body("\t\ta  b\t\tc \r\n", Canon::kRelaxed), " a b c\r\n");
}

TEST(Canon, BareLfAndCr) {
  EXPECT_EQ(canon_body("a\nb\n\n", Canon::kSimple), "a\r\nb\r\n");
  EXPECT_EQ(canon_body("a\rb\r\n", Canon::kSimple), "a\rb\r\n");
  EXPECT_EQ(canon_body("a\r", Canon::kSimple), "a\r\r\n");
  EXPECT_EQ(canon_header("X: a\n b\n", Canon::kSimple), "X: a\r\n b\r\n");
  EXPECT_EQ(canon_header("X: a", Canon::kSimple), "X: a\r\n");
}

TEST(Canon, RelaxedHeaderFolding) {
  EXPECT_EQ(canon_header("Subject:   Hello\r\n   world  \r\n\t again \r\n", Canon::kRelaxed),
            "subject:Hello world again\r\n");
  EXPECT_EQ(canon_header("X-Empty:   \r\n", Canon::kRelaxed), "x-empty:\r\n");
  EXPECT_EQ(canon_header("DKIM-Signature: a=1; b=", Canon::kRelaxed), "dkim-signature:a=1; b=\r\n");
}

TEST(Canon, SplitFields) {
  std::string_view msg = "From: a\r\nbogus line\r\nTo: b,\r\n c\r\nX :y\r\n\r\nBody: no\r\n";
  auto f = split_raw_fields(msg);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].raw, "From: a\r\n");
  EXPECT_EQ(f[1].raw, "To: b,\r\n c\r\n");
  EXPECT_EQ(f[2].name, "X");
  EXPECT_EQ(f[2].raw, "X :y\r\n");
  EXPECT_EQ(msg.substr(mime::split_header(msg).body_start), "Body: no\r\n");
  // No empty line: all header, empty body.
  EXPECT_EQ(mime::split_header("A: b\r\n").body_start, 6u);
  EXPECT_EQ(split_raw_fields("A: b").size(), 1u);
  // max_fields at N and N+1.
  EXPECT_EQ(split_raw_fields("A: 1\r\nB: 2\r\n", 2).size(), 2u);
  EXPECT_EQ(split_raw_fields("A: 1\r\nB: 2\r\nC: 3\r\n", 2).size(), 2u);
}

TEST(Canon, LengthLimit) {
  // l=N and N+1 around the canonical length (5: "abc\r\n").
  for (uint64_t l : {0u, 3u, 5u, 6u}) {
    std::string out;
    BodyCanonicalizer bc(Canon::kSimple, l, [&](std::string_view p) { out += p; });
    bc.update("abc\r\n\r\n");
    bc.finish();
    EXPECT_EQ(out, std::string("abc\r\n").substr(0, l)) << l;
    EXPECT_EQ(bc.canonical_length(), 5u);
    EXPECT_EQ(bc.written(), std::min<uint64_t>(l, 5));
  }
}

TEST(Canon, ChunkedEqualsWhole) {
  std::string body = " C \r\nD \t E\r\n\r\nx\r\r\n  \r\n\ty \n\r\n\r\n";
  for (auto c : {Canon::kSimple, Canon::kRelaxed}) {
    auto whole = canon_body(body, c);
    for (std::size_t step = 1; step <= 4; ++step) {
      std::string out;
      BodyCanonicalizer bc(c, std::nullopt, [&](std::string_view p) { out += p; });
      for (std::size_t i = 0; i < body.size(); i += step) bc.update(std::string_view(body).substr(i, step));
      bc.finish();
      EXPECT_EQ(out, whole) << step;
    }
  }
}

TEST(Canon, LargeBodyIsHandedOutInPieces) {
  std::string body(100'000, 'x');
  std::size_t pieces = 0, max_piece = 0, total = 0;
  BodyCanonicalizer bc(Canon::kRelaxed, std::nullopt, [&](std::string_view p) {
    ++pieces;
    max_piece = std::max(max_piece, p.size());
    total += p.size();
  });
  bc.update(body);
  bc.finish();
  EXPECT_EQ(total, 100'002u);
  EXPECT_GT(pieces, 1u);
  EXPECT_LE(max_piece, 16u * 1024);
}

// A 50 MB body (the largest message size) is canonicalised in one pass and handed out in bounded
// pieces; the time is printed as a measured figure (ASan builds are several times slower).
TEST(Canon, FiftyMegabyteBody) {
  std::string line = "Lorem ipsum dolor sit amet,  consectetur \t adipiscing elit. \r\n";
  std::string body;
  body.reserve(50u << 20);
  while (body.size() + line.size() <= (50u << 20)) body += line;
  for (auto c : {Canon::kSimple, Canon::kRelaxed}) {
    uint64_t total = 0;
    std::size_t max_piece = 0;
    auto start = std::chrono::steady_clock::now();
    BodyCanonicalizer bc(c, std::nullopt, [&](std::string_view p) {
      total += p.size();
      max_piece = std::max(max_piece, p.size());
    });
    bc.update(body);
    bc.finish();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    std::printf("canonicalised 50 MB (%s) in %lld ms\n", c == Canon::kSimple ? "simple" : "relaxed",
                static_cast<long long>(ms));
    EXPECT_EQ(total, bc.canonical_length());
    EXPECT_EQ(total, body.size() / line.size() * canon_body(line, c).size());
    EXPECT_LE(max_piece, 16u * 1024);
  }
}

}  // namespace
}  // namespace posthorn::msgauth
