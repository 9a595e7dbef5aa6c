// Internal building blocks of DKIM (msgauth/dkim.cpp) shared with ARC (msgauth/arc.cpp), which
// signs and verifies with the same tag lists, header selection, canonicalisation, key records and
// crypto [RFC 8617 §4.1: AMS and AS are DKIM-like signatures]. Not a public API: only msgauth's
// own .cpp files include it.
// Depends on msgauth/dkim, msgauth/canon, dns/resolver (interface), OpenSSL 3 (EVP).
// Pure functions (fetch_public_key only awaits the resolver); thread-safe.
#pragma once

#include <openssl/evp.h>

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/canon.hpp"
#include "msgauth/dkim.hpp"

namespace posthorn::msgauth::dkim_detail {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
inline PkeyPtr null_pkey() { return PkeyPtr(nullptr, &EVP_PKEY_free); }

constexpr std::size_t kFoldWidth = 78;  // RFC 5322 §2.1.1 SHOULD

std::string_view trim_fws(std::string_view s);
std::string strip_fws(std::string_view s);  // every FWS character removed (b=, bh= values)

// ---- tag lists [RFC 6376 §3.2] ----
struct Tag {
  std::string_view name;
  std::string_view value;  // FWS at both ends removed
};

struct TagList {
  std::vector<Tag> tags;
  const Tag* find(std::string_view name) const {
    for (const auto& t : tags)
      if (t.name == name) return &t;
    return nullptr;
  }
};

// Parses "name=value; name=value[;]" (views into `text`). Names are case-sensitive; a duplicate,
// malformed name, oversized value or too many tags is nullopt with `why` set.
std::optional<TagList> parse_tags(std::string_view text, std::string& why);
// Colon-separated list with FWS around the items; empty items are kept as "".
std::vector<std::string_view> colon_list(std::string_view s);
// Non-negative decimal of at most `max_digits` digits.
std::optional<uint64_t> parse_number(std::string_view s, std::size_t max_digits);
// c= "header[/body]": sets the given canonicalisations (body unchanged when absent); false when
// malformed.
bool parse_canon(std::string_view value, Canon& header, Canon& body);
// A domain name or selector: labels of letters, digits, '-', '_', 1..63 bytes, 253 in all.
bool valid_dns_name(std::string_view s);

// ---- hashing and signatures ----
struct BodyHash {
  std::string digest;  // raw SHA-256
  uint64_t canonical_length = 0;
};
BodyHash body_hash(std::string_view body, Canon c, std::optional<uint64_t> limit);
// Body hashes computed once per (canonicalisation, l=) among the signatures of one message.
struct BodyHashCache {
  struct Entry {
    Canon canon;
    std::optional<uint64_t> limit;
    BodyHash hash;
  };
  std::vector<Entry> entries;
  const BodyHash& get(std::string_view body, Canon c, std::optional<uint64_t> limit) {
    for (const auto& e : entries)
      if (e.canon == c && e.limit == limit) return e.hash;
    entries.push_back(Entry{c, limit, body_hash(body, c, limit)});
    return entries.back().hash;
  }
};
std::optional<std::string> sign_data(EVP_PKEY* key, DkimAlgorithm alg, std::string_view data);  // nullopt: OpenSSL failed
bool verify_data(EVP_PKEY* key, DkimAlgorithm alg, std::string_view data, std::string_view sig);

// ---- header selection ----
// The header hash input for the names in `h` [RFC 6376 §5.4.2]: for each name the last unused
// field of that name (bottom-up), canonicalised.
std::string signed_headers_data(const std::vector<RawField>& fields, const std::vector<std::string_view>& h, Canon c);
// Appends the signature field `raw` with the value of b= removed, canonicalised, without its final
// CRLF [RFC 6376 §3.7].
void append_signature_field(std::string& data, std::string_view raw, Canon c);

// Builds a header field folded at kFoldWidth between tokens.
class Folder {
 public:
  explicit Folder(std::string_view start) : out_(start), line_(start.size()) {}
  void add(std::string_view token, bool space_before) {
    std::size_t need = token.size() + (space_before ? 1 : 0);
    if (line_ + need > kFoldWidth && line_ > 1) {
      out_ += "\r\n ";
      line_ = 1;
    } else if (space_before) {
      out_ += ' ';
      ++line_;
    }
    out_ += token;
    line_ += token.size();
  }
  const std::string& text() const { return out_; }

 private:
  std::string out_;
  std::size_t line_;
};

// The header names a signature of ours covers (DkimSigner::sign and ARC-Message-Signature): the
// default headers present, as often as they appear, From once more (oversigned), then List-*.
std::vector<std::string> default_signed_names(const std::vector<RawField>& fields);
// Adds "h=a:b:c;" to a field being built.
void add_h_tag(Folder& f, const std::vector<std::string_view>& h);
using SignFn = std::function<std::optional<std::string>(std::string_view data)>;
// Ends a signature field begun in `f` (every tag but b= added): adds "b=", signs `headers_data`
// followed by the relaxed field without b= [RFC 6376 §3.7] with `sign`, appends the base64
// signature and CRLF. nullopt when `sign` fails.
std::optional<std::string> complete_signature(Folder f, std::string_view headers_data, const SignFn& sign);

// ---- keys [RFC 6376 §3.6.1] ----
struct PublicKey {
  PkeyPtr pkey = null_pkey();
  bool testing = false;  // t=y
  bool strict = false;   // t=s: i= must be exactly d=
};
// Parses one key record for algorithm `alg`; nullopt with `why` (a permerror) on any problem.
std::optional<PublicKey> parse_key_record(std::string_view record, DkimAlgorithm alg, std::string& why);

struct KeyFetch {
  std::optional<PublicKey> key;              // set when status is kPass
  DkimStatus status = DkimStatus::kPermError;  // kPass, kTempError or kPermError
  std::string why;
};
// Looks up the TXT record `key_name` (selector._domainkey.domain) and parses it. Never throws for
// DNS failures (they are kTempError).
boost::asio::awaitable<KeyFetch> fetch_public_key(dns::Resolver& resolver, std::string key_name, DkimAlgorithm alg);

}  // namespace posthorn::msgauth::dkim_detail
