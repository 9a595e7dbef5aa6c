// gzip (RFC 1952) in memory, with zlib: the DMARC aggregate reports (msgauth/dmarc_report) and the
// TLS-RPT reports (queue/tls_report) are mailed gzipped. Depends on zlib only. Thread-safe (no state).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace posthorn::gzip {

// The gzip stream of `data` (best compression); empty only if zlib cannot start.
std::string compress(std::string_view data);
// The reverse, for at most `max_out` bytes of output: kInvalid when the input is not gzip, is
// truncated, or inflates to more (a report or a bomb from outside cannot grow without bound).
Result<std::string> decompress(std::string_view data, std::size_t max_out);

}  // namespace posthorn::gzip
