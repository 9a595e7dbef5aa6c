// Resolver: the asynchronous DNS lookups that outbound delivery and mail authentication need (MX with
// RFC 7505 null MX, A, AAAA; TXT for SPF/DKIM/DMARC/MTA-STS, PTR for SPF, TLSA for DANE), as
// Boost.Asio awaitables. The answer says why a lookup found nothing, because the queue treats
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

struct TxtAnswer {
  Status status = Status::kTempFail;
  // One entry per TXT record, its character-strings joined without separators (RFC 7208 §3.3,
  // RFC 6376 §3.6.2.2). Binary bytes are kept as they are.
  std::vector<std::string> records;
  bool secure = false;
  std::string why;
};

struct NameAnswer {  // PTR
  Status status = Status::kTempFail;
  std::vector<std::string> names;  // lower-case, without the trailing dot, in answer order
  bool secure = false;
  std::string why;
};

struct Tlsa {  // RFC 6698 §2.1
  uint8_t usage = 0;
  uint8_t selector = 0;
  uint8_t matching_type = 0;
  std::string data;  // the certificate association data, raw bytes
  bool operator==(const Tlsa&) const = default;
};

struct TlsaAnswer {
  Status status = Status::kTempFail;
  std::vector<Tlsa> records;
  bool secure = false;  // DANE uses the records only when this is true (RFC 7672 §2.2)
  std::string why;
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // `name` may end in a dot; letters are compared case-insensitively.
  virtual boost::asio::awaitable<MxAnswer> mx(std::string name) = 0;
  virtual boost::asio::awaitable<AddressAnswer> a(std::string name) = 0;
  virtual boost::asio::awaitable<AddressAnswer> aaaa(std::string name) = 0;
  virtual boost::asio::awaitable<TxtAnswer> txt(std::string name) = 0;
  // The PTR records of `ip` (the lookup of reverse_name(ip)).
  virtual boost::asio::awaitable<NameAnswer> ptr(boost::asio::ip::address ip) = 0;
  // `name` is the full TLSA owner name, e.g. "_25._tcp.mx.example.com".
  virtual boost::asio::awaitable<TlsaAnswer> tlsa(std::string name) = 0;
};

// "4.3.2.1.in-addr.arpa" for 1.2.3.4; the nibble form under "ip6.arpa" for IPv6 (RFC 3596 §2.5).
std::string reverse_name(const boost::asio::ip::address& ip);

// Joins the character-strings of one TXT record's rdata (<len><bytes>...). Returns false when a
// length runs past the end.
bool read_txt_rdata(std::string_view rdata, std::string& out);

// Orders MX records by preference, keeping answer order among equals (callers shuffle those), and
// detects a null MX [RFC 7505 §3]: exactly one record, preference 0, target ".". A null MX among
// other records is ignored as the RFC says (the other records are used).
void finish_mx(MxAnswer& answer);

// Reads a wire-format domain name (uncompressed labels, as libunbound hands out rdata) starting at
// `pos`; advances `pos`. Returns false on a malformed name. Lower-cases, drops the final dot.
bool read_wire_name(std::string_view wire, size_t& pos, std::string& out);

}  // namespace posthorn::dns
