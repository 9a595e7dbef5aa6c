// Resolver: the asynchronous DNS lookups that outbound delivery needs (MX with RFC 7505 null MX, A,
// AAAA), as Boost.Asio awaitables. The answer says why a lookup found nothing, because the queue treats
// the cases differently: NXDOMAIN and "no data" are final answers (a bounce, or the RFC 5321 §5
// implicit MX), a temporary failure (SERVFAIL, REFUSED, timeout) means "try again later".
// Implementations: UnboundResolver (libunbound, production) and TableResolver (tests of higher layers).
// Depends on base/ and Boost.Asio only. Implementations are thread-safe: one resolver serves every
// delivery coroutine.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace posthorn::dns {

enum class Status {
  kOk,        // records found
  kNxDomain,  // the name does not exist (rcode 3)
  kNoData,    // the name exists but has no record of this type
  kTempFail,  // SERVFAIL, REFUSED, timeout, network or DNSSEC failure: ask again later
};
std::string_view status_name(Status s);

struct Mx {
  uint16_t preference = 0;
  std::string host;  // lower-case, without the trailing dot; "" is the root (null MX)
  bool operator==(const Mx&) const = default;
};

struct MxAnswer {
  Status status = Status::kTempFail;
  std::vector<Mx> records;  // sorted by preference (ties in answer order); empty unless kOk
  bool null_mx = false;     // RFC 7505: a single "MX 0 ." — the domain accepts no mail
  bool secure = false;      // DNSSEC-validated (always false without a trust anchor)
  std::string why;          // for logs and diagnostics ("SERVFAIL", "timeout")
};

struct AddressAnswer {
  Status status = Status::kTempFail;
  std::vector<boost::asio::ip::address> addresses;  // in answer order
  bool secure = false;
  std::string why;
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // `name` may end in a dot; letters are compared case-insensitively.
  virtual boost::asio::awaitable<MxAnswer> mx(std::string name) = 0;
  virtual boost::asio::awaitable<AddressAnswer> a(std::string name) = 0;
  virtual boost::asio::awaitable<AddressAnswer> aaaa(std::string name) = 0;
};

// Orders MX records by preference, keeping answer order among equals (callers shuffle those), and
// detects a null MX [RFC 7505 §3]: exactly one record, preference 0, target ".". A null MX among
// other records is ignored as the RFC says (the other records are used).
void finish_mx(MxAnswer& answer);

// Reads a wire-format domain name (uncompressed labels, as libunbound hands out rdata) starting at
// `pos`; advances `pos`. Returns false on a malformed name. Lower-cases, drops the final dot.
bool read_wire_name(std::string_view wire, size_t& pos, std::string& out);

}  // namespace posthorn::dns
