// DKIM [RFC 6376] signing and verification, with RFC 8301 (no rsa-sha1, RSA keys of at least 1024
// bits) and RFC 8463 (ed25519-sha256).
//
// Signing: a DkimSigner holds private keys per domain (any number, each with its own selector and
// algorithm) and makes the DKIM-Signature fields to prepend to a message: relaxed/relaxed, t=, a
// fixed list of headers with From oversigned.
// Verification: dkim_verify() checks every DKIM-Signature field of a message (at most
// kMaxVerifiedSignatures), fetching keys as TXT records through a dns::Resolver, and returns one
// result per signature in RFC 8601 words, ready for Authentication-Results.
//
// Depends on msgauth/canon, dns/resolver (interface only), base (base64, Result) and OpenSSL 3
// (EVP). Never throws on hostile input: tag values, h= lists, key sizes and the number of
// signatures are bounded. A DkimSigner is immutable after loading and may be shared between threads
// (const calls only); dkim_verify is reentrant.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace posthorn::dns {
class Resolver;
}

namespace posthorn::msgauth {

enum class DkimAlgorithm { kRsaSha256, kEd25519Sha256 };
std::string_view algorithm_name(DkimAlgorithm a);  // "rsa-sha256", "ed25519-sha256"

// ---------------------------------------------------------------------------------------------
// Signing

class DkimSigner {
 public:
  DkimSigner();
  ~DkimSigner();
  DkimSigner(DkimSigner&&) noexcept;
  DkimSigner& operator=(DkimSigner&&) noexcept;

  // Adds a private key (PEM: PKCS#8 or traditional, RSA >= 1024 bits or Ed25519) for `domain` under
  // `selector`; the algorithm follows the key type. Where keys are kept: msgauth/dkim_keys.hpp.
  Result<void> add_key(std::string_view domain, std::string_view selector, std::string_view pem);

  // True when a key exists for `domain` (case-insensitive).
  bool has_domain(std::string_view domain) const;
  std::size_t key_count() const;

  // The DKIM-Signature fields for `message` (the full message bytes, CRLF line ends), one per key
  // of `domain`, each CRLF-terminated and folded to lines of at most 78 characters where possible,
  // to be prepended to the message as they are. "" when there is no key for `domain`.
  // `now` is the signature time (t=), in seconds since the epoch.
  std::string sign(std::string_view message, std::string_view domain, int64_t now) const;

  // ARC sealing (msgauth/arc) uses the domain's RSA key, since RFC 8617 has no Ed25519: the
  // selector of the first RSA key of `domain` (case-insensitive), or "" when it has none.
  std::string rsa_selector(std::string_view domain) const;
  // The RSA-SHA256 (PKCS#1 v1.5) signature of `data` with that key; nullopt when there is no RSA
  // key for `domain` or OpenSSL fails.
  std::optional<std::string> rsa_sign(std::string_view domain, std::string_view data) const;

  // The header names signed when present (From is always signed, once more than it appears).
  static const std::vector<std::string_view>& default_headers();

 private:
  struct Key;
  const Key* rsa_key(std::string_view domain) const;  // first RSA key of `domain`, or null
  std::map<std::string, std::vector<std::shared_ptr<const Key>>> keys_;  // by lower-case domain
};

// A new private key as PEM (PKCS#8): RSA of `rsa_bits` bits (1024..8192) or Ed25519.
Result<std::string> generate_dkim_key(DkimAlgorithm algorithm, int rsa_bits = 2048);

// Public half of a PEM private key as DNS TXT record text: "v=DKIM1; k=rsa; p=..." or
// "v=DKIM1; k=ed25519; p=..." (RFC 8463 §4: p= is the raw 32-byte key). Error on a bad key.
Result<std::string> dkim_txt_record(std::string_view private_pem);

// ---------------------------------------------------------------------------------------------
// Verification

enum class DkimStatus { kNone, kPass, kFail, kNeutral, kPolicy, kTempError, kPermError };
std::string_view status_word(DkimStatus s);  // RFC 8601 §2.7.1: "pass", "fail", "permerror", ...

struct DkimResult {
  DkimStatus status = DkimStatus::kNone;
  std::string domain;     // d= (as written; "" when unreadable)
  std::string selector;   // s=
  std::string algorithm;  // a=
  std::string b_prefix;   // the first 12 characters of b= (whitespace removed), for header.b
  std::string identity;   // i= (or "@" + d= when absent)
  std::string reason;     // human-readable: why not pass ("body hash mismatch", "key revoked")
};

constexpr std::size_t kMaxVerifiedSignatures = 10;  // further signatures answer kPolicy
constexpr std::size_t kMaxSignedHeaders = 64;       // h= entries; more is permerror
constexpr int kMinRsaBits = 1024;                   // RFC 8301 §3.2
constexpr int kMaxRsaBits = 8192;                   // bounded work per signature
constexpr std::size_t kMaxSignatureField = 16 * 1024;  // bytes of one DKIM-Signature field

// Verifies every DKIM-Signature field of `message` (full bytes) at time `now` (seconds since the
// epoch, for x=). One result per signature in message order; a single kNone result when the message
// has no signature. Never throws for anything in the message or in DNS answers. `message` is not
// copied: its bytes must stay valid until the awaitable completes. The body is hashed in place,
// once per distinct (canonicalisation, l=) among the signatures.
boost::asio::awaitable<std::vector<DkimResult>> dkim_verify(std::string_view message, dns::Resolver& resolver,
                                                            int64_t now);

}  // namespace posthorn::msgauth
